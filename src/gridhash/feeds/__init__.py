"""Real data in: fetchers that write hourly UTC series files with their provenance.

This package is an edge of gridhash (network and file I/O).  It may import
:mod:`gridhash.scenario` and :mod:`gridhash.bitcoin`; nothing imports it but
the command line (``gridhash fetch …``).  Every fetcher writes one Parquet
file with a ``time`` column (UTC hours) and its provenance (source, URL
without credentials, fetch time, range, library versions, assumptions) in the
Parquet metadata, under :data:`gridhash.scenario.series.PROVENANCE_KEY`.

Modules: :mod:`.store` (the file and its provenance), :mod:`.http` (retries,
backoff, HTTP 429), :mod:`.blocks` (blocks → hourly network series, resumable),
:mod:`.bitcoin_core` and :mod:`.mempool` (the two block sources),
:mod:`.btc_price`, :mod:`.power` (ENTSO-E, OREE exports, FX) and :mod:`.cli`.
"""
