from pathlib import Path

# The gateway database's Alembic history (crm_shared.migrations.upgrade(MIGRATIONS_DIR, url)).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
