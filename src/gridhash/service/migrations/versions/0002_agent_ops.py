"""Site agents' telemetry and token expiry (issue 17).

Revision ID: 0002_agent_ops
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_agent_ops"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_telemetry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(80), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("mw", sa.Double(), nullable=False),
        sa.Column("hashrate_th_s", sa.Double(), nullable=False),
        sa.Column("cap_mw", sa.Double(), nullable=False),
        sa.Column("awake", sa.Integer(), nullable=False),
        sa.Column("asleep", sa.Integer(), nullable=False),
        sa.Column("unreachable", sa.Integer(), nullable=False),
        sa.Column("disobeying", sa.Integer(), nullable=False),
        sa.Column("seconds_to_under_cap", sa.Double(), nullable=True),
        sa.Column("failsafe", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_site_telemetry_site_at", "site_telemetry", ["site", "received_at"])
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("token_expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("token_expires_at")
    op.drop_index("ix_site_telemetry_site_at", table_name="site_telemetry")
    op.drop_table("site_telemetry")
