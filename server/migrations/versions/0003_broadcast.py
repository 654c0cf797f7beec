"""broadcast: destinations (RTMP/RTMPS ingests) and per-session options

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast_destination",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("stream_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcast_destination_session_id", "broadcast_destination",
                    ["session_id"])
    op.create_table(
        "broadcast_option",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("record", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("broadcast_option")
    op.drop_index("ix_broadcast_destination_session_id", "broadcast_destination")
    op.drop_table("broadcast_destination")
