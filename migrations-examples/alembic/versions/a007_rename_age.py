"""rename age

Revision ID: a007
Revises: a006
"""
from alembic import op
import sqlalchemy as sa

revision = "a007"
down_revision = 'a006'


def upgrade():
    op.alter_column("users", "age", new_column_name="age_years")


def downgrade():
    op.alter_column("users", "age_years", new_column_name="age")
