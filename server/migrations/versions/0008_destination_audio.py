"""destination audio: the language each broadcast destination carries

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcast_destination") as batch:
        batch.add_column(sa.Column("audio", sa.String(8), nullable=False,
                                   server_default="floor"))


def downgrade() -> None:
    with op.batch_alter_table("broadcast_destination") as batch:
        batch.drop_column("audio")
