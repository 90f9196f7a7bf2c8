"""Storage: Peewee models, schema migrations and the database handle."""

from .database import Store, open_store
from .migrations import migrate
from .models import Models, define_models

__all__ = ["Models", "Store", "define_models", "migrate", "open_store"]
