"""polls (one ballot per voter) and reaction totals

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("revealed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("salt", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_poll_session_id", "poll", ["session_id"])
    op.create_table(
        "poll_ballot",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(64), nullable=False),
        sa.Column("voter_name", sa.String(200), nullable=True),
        sa.Column("choices", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], ondelete="CASCADE"),
        # One ballot per voter and poll: the database, not the code, makes a
        # vote count once.
        sa.PrimaryKeyConstraint("poll_id", "voter"),
    )
    op.create_table(
        "reaction_total",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("reaction", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "reaction"),
    )


def downgrade() -> None:
    op.drop_table("reaction_total")
    op.drop_table("poll_ballot")
    op.drop_table("poll")
