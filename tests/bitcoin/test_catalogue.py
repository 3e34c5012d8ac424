"""Tests of gridhash.bitcoin.catalogue: packaged ASIC data, validation and look-up."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from gridhash.bitcoin.catalogue import (
    COOLING,
    AsicModel,
    get_model,
    load_catalogue,
    parse_catalogue,
    released_by,
)
from gridhash.errors import CatalogueError, InputError

EXPECTED_MODELS = {
    "Antminer S21 XP",
    "Antminer S21 Pro",
    "Antminer S21",
    "Antminer S19 XP",
    "Antminer S19j Pro",
    "Antminer S19 Pro",
    "Avalon A16 XP",
    "Avalon A16",
    "Whatsminer M66S+",
    "Antminer S21+ Hydro",
    "Antminer S21 XP+ Hydro",
    "Antminer S23 Hydro",
    "Antminer S23 Hydro 3U",
    "Antminer U3S21EXPH",
    "SealMiner A2",
    "SealMiner A2 Hyd",
}

GOOD_ENTRY = """
[models."Test Miner"]
manufacturer = "Acme"
hashrate_th = 100.0
power_w = 2000.0
stated_efficiency_j_per_th = 20.0
cooling = "air"
released = "2024-01"
source = "Acme spec sheet — https://example.org/spec"
price_usd = 1000.0
price_date = "2024-02-03"
price_source = "Acme price list — https://example.org/price"
"""


def test_catalogue_has_the_expected_models() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 8
    assert set(catalogue) == EXPECTED_MODELS
    assert all(isinstance(m, AsicModel) and m.name == name for name, m in catalogue.items())


@pytest.mark.parametrize("name", sorted(EXPECTED_MODELS))
def test_derived_efficiency_matches_stated_within_2_percent(name: str) -> None:
    model = load_catalogue()[name]
    assert model.efficiency_j_per_th == pytest.approx(model.stated_efficiency_j_per_th, rel=0.02)


@pytest.mark.parametrize("name", sorted(EXPECTED_MODELS))
def test_every_entry_is_sourced(name: str) -> None:
    model = load_catalogue()[name]
    assert "http" in model.source
    if model.price_is_assumption:
        assert model.price_note.startswith("assumption:")
        assert model.price_source == ""
        # the basis is stated: a $/TH from a named, cited comparable
        assert "$/TH" in model.price_note and "cited" in model.price_note
    else:
        assert "http" in model.price_source
    assert model.hashrate_th > 0 and model.power_w > 0 and model.price_usd > 0
    # a price has its date, and a release date is given or said to be unknown
    assert model.price_date[:2] == "20" and model.released
    assert model.released == "unknown" or model.released[:2] == "20"
    # air, hydro or immersion
    assert model.cooling in COOLING
    # every machine is an SHA-256 miner of 2020 or later: 9-30 J/TH at the wall
    assert 9.0 <= model.efficiency_j_per_th <= 30.0


def test_the_generation_on_sale_for_the_horizon_is_there_air_and_hydro() -> None:
    """Issue 15: the machines on sale for a 2027 horizon, the 2025-2026 generation
    of roughly 9-13 J/TH, in air and hydro versions, each released by 2027-01-01."""
    catalogue = load_catalogue().values()
    start = date(2027, 1, 1)
    current = [m for m in catalogue
               if m.efficiency_j_per_th <= 13.0 and released_by(m, start)]
    assert {m.cooling for m in current} >= {"air", "hydro"}
    assert {m.manufacturer for m in current} >= {"Bitmain", "Canaan"}
    assert min(m.efficiency_j_per_th for m in current) == pytest.approx(9.5)
    # the 2024-2025 generation of 15-18.5 J/TH from the other makers is there too
    assert {"Bitdeer", "MicroBT"} <= {m.manufacturer for m in catalogue}


def test_assumed_prices_take_the_nearest_comparable() -> None:
    """An assumed price is the $/TH of a cited comparable: the S21 XP's market quote
    (25.70 $/TH, 2025-11-03) under 14 J/TH, 16.0 $/TH for 15-18.5 J/TH."""
    catalogue = load_catalogue()
    s21xp = catalogue["Antminer S21 XP"]
    assert not s21xp.price_is_assumption and s21xp.price_date == "2025-11-03"
    assert s21xp.price_usd == pytest.approx(25.70 * 270)
    for m in catalogue.values():
        if not m.price_is_assumption:
            continue
        per_th = m.price_usd / m.hashrate_th
        if m.efficiency_j_per_th < 14.0:
            assert per_th == pytest.approx(25.70), m.name
            assert m.price_date == "2025-11-03" and "S21 XP" in m.price_note
        else:
            assert per_th == pytest.approx(16.0), m.name


def test_hand_values_of_two_entries() -> None:
    s21xp = get_model("Antminer S21 XP")
    assert (s21xp.hashrate_th, s21xp.power_w, s21xp.manufacturer) == (270.0, 3645.0, "Bitmain")
    assert s21xp.efficiency_j_per_th == pytest.approx(13.5)
    a16xp = get_model("Avalon A16 XP")
    assert a16xp.efficiency_j_per_th == pytest.approx(3850 / 300)
    assert a16xp.released == "2025-10"


def test_get_model_exact_and_case_insensitive() -> None:
    exact = get_model("Antminer S21 Pro")
    assert get_model("antminer s21 pro") is exact
    assert get_model("  ANTMINER   S21 PRO ") is exact


def test_get_model_unknown_suggests_and_lists() -> None:
    with pytest.raises(CatalogueError) as info:
        get_model("S21 XP")
    err = info.value
    assert isinstance(err, InputError)
    assert "'S21 XP'" in str(err)
    assert "did you mean 'Antminer S21 XP'" in str(err)
    assert err.expected is not None and err.expected.startswith("one of the catalogue's models:")
    assert "Avalon A16" in err.expected
    assert err.value == "S21 XP"


def test_get_model_rejects_non_string() -> None:
    with pytest.raises(CatalogueError):
        get_model(42)  # type: ignore[arg-type]


def test_load_catalogue_returns_a_fresh_dict() -> None:
    first = load_catalogue()
    first.pop("Antminer S21")
    assert "Antminer S21" in load_catalogue()


def test_models_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_model("Antminer S21").power_w = 1.0  # type: ignore[misc]


def test_parse_good_entry() -> None:
    models = parse_catalogue(GOOD_ENTRY)
    assert models["Test Miner"].efficiency_j_per_th == 20.0
    assert models["Test Miner"].notes == ""


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("power_w = 2000.0", "power_w = -2000.0", "power_w"),
        ("hashrate_th = 100.0", "hashrate_th = 0", "hashrate_th"),
        ("hashrate_th = 100.0", "hashrate_th = true", "hashrate_th"),
        ("price_usd = 1000.0", 'price_usd = "1000"', "price_usd"),
        ('source = "Acme spec sheet — https://example.org/spec"', 'source = "  "', "source"),
        ('source = "Acme spec sheet — https://example.org/spec"', "", "source"),
        ('price_date = "2024-02-03"', 'price_date = "03/02/2024"', "price_date"),
        ('released = "2024-01"', 'released = "soon"', "released"),
        ('cooling = "air"', 'cooling = "water"', "cooling"),
        ('cooling = "air"', "", "cooling"),
        ('manufacturer = "Acme"', 'manufacturer = "Acme"\nwatts = 3', "watts"),
        ('price_source = "Acme price list — https://example.org/price"', "", "price_source"),
    ],
)
def test_parse_rejects_bad_entries_naming_entry_and_field(old: str, new: str, field: str) -> None:
    text = GOOD_ENTRY.replace(old, new)
    assert text != GOOD_ENTRY
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(text, source="test.toml")
    err = info.value
    assert err.source == "test.toml"
    assert err.field == f"models.'Test Miner'.{field}"
    assert "Test Miner" in str(err) and field in str(err)


def test_price_assumption_note_replaces_price_source() -> None:
    text = GOOD_ENTRY.replace(
        'price_source = "Acme price list — https://example.org/price"',
        'price_source = ""\nprice_note = "assumption: list price guessed"',
    )
    model = parse_catalogue(text)["Test Miner"]
    assert model.price_is_assumption


def test_parse_rejects_empty_and_malformed() -> None:
    with pytest.raises(CatalogueError, match="no models"):
        parse_catalogue("")
    with pytest.raises(CatalogueError, match="malformed TOML"):
        parse_catalogue("[models\n")


def test_size_offers_the_newest_machines_for_the_default_year() -> None:
    """README: for the default 2027 year `gridhash size` weighs the S23 Hydro, the
    S23 Hydro 3U and the S21 XP+ Hydro, the three most efficient models on sale by
    2027-01-01; a model released after the start would not be offered."""
    from gridhash.risk.sizing import size_candidates
    from gridhash.scenario.load import load_scenario

    ld = load_scenario("znpp")
    assert ld.scenario.horizon.start.date() == date(2027, 1, 1)
    assert size_candidates(ld) == [
        "Antminer S23 Hydro", "Antminer S23 Hydro 3U", "Antminer S21 XP+ Hydro"]
    catalogue = load_catalogue()
    assert len(catalogue) == 16
    assert {m.manufacturer for m in catalogue.values()} == {
        "Bitmain", "Canaan", "MicroBT", "Bitdeer"}
    effs = [m.efficiency_j_per_th for m in catalogue.values()]
    assert (round(min(effs), 1), round(max(effs), 1)) == (9.5, 29.6)
