"""age bigint

Revision ID: a005
Revises: a004
"""
from alembic import op
import sqlalchemy as sa

revision = "a005"
down_revision = 'a004'


def upgrade():
    op.alter_column("users", "age", type_=sa.BigInteger(), existing_nullable=True)


def downgrade():
    op.alter_column("users", "age", type_=sa.Integer())
