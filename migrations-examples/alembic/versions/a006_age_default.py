"""age default

Revision ID: a006
Revises: a005
"""
from alembic import op
import sqlalchemy as sa

revision = "a006"
down_revision = 'a005'


def upgrade():
    op.alter_column("users", "age", server_default=sa.text("18"))


def downgrade():
    op.alter_column("users", "age", server_default=None)
