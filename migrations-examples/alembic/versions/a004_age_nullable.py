"""age nullable

Revision ID: a004
Revises: a003
"""
from alembic import op
import sqlalchemy as sa

revision = "a004"
down_revision = 'a003'


def upgrade():
    op.alter_column("users", "age", existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.alter_column("users", "age", existing_type=sa.Integer(), nullable=False)
