"""The operations service's first schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "principals",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("site", sa.String(80), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(80), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_plans_day", "plans", ["day"])
    op.create_index("ix_plans_status", "plans", ["status"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("party", sa.String(80), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("plan_id", "party", "kind", name="uq_decision"),
    )
    op.create_index("ix_decisions_plan_id", "decisions", ["plan_id"])
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("raised_by", sa.String(80), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lifted_by", sa.String(80), sa.ForeignKey("principals.id"), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
    )
    op.create_table(
        "plant_states",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reported_by", sa.String(80), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("offsite_lines", sa.Integer(), nullable=False),
        sa.Column("on_diesel", sa.Boolean(), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_plant_states_at", "plant_states", ["at"])
    op.create_table(
        "meter_batches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("submitted_by", sa.String(80), sa.ForeignKey("principals.id"),
                  nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
    )
    op.create_table(
        "readings",
        sa.Column("meter", sa.String(128), primary_key=True),
        sa.Column("interval_start", sa.DateTime(), primary_key=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("meter_batches.id"), nullable=False),
    )
    op.create_index("ix_readings_batch_id", "readings", ["batch_id"])
    op.create_table(
        "statements",
        sa.Column("period", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_by", sa.String(80), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("meter_record", sa.JSON(), nullable=False),
    )
    op.create_table(
        "statement_signatures",
        sa.Column("period", sa.Integer(), sa.ForeignKey("statements.period"), primary_key=True),
        sa.Column("party", sa.String(80), sa.ForeignKey("principals.id"), primary_key=True),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "ledger_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=True),
    )
    op.create_index("ix_ledger_outbox_pending", "ledger_outbox", ["ledger_seq", "id"])


def downgrade() -> None:
    for table in (
        "ledger_outbox",
        "statement_signatures",
        "statements",
        "readings",
        "meter_batches",
        "plant_states",
        "holds",
        "decisions",
        "plans",
        "principals",
        "meta",
    ):
        op.drop_table(table)
