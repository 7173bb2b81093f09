"""The service's settings: one typed class read from ``TIERLINE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Validated at start-up; tests build their own and pass it to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="TIERLINE_", extra="ignore", frozen=True)

    # The store creates the SQLite file's folder (var/) when it opens.
    database_url: str = "sqlite:///var/tierline.db"
    models: str = "models"
    default_tier: str = Field(default="standard", min_length=1)
    batch_cap: int = Field(default=100, ge=1, le=10_000)
    max_body_bytes: int = Field(default=65_536, ge=1)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    # How often each process looks at the champion pointer (one stat; a swap's delay).
    reload_seconds: float = Field(default=0.25, gt=0)
    # How long a checked key is trusted without reading the store (a revocation's delay).
    key_cache_seconds: float = Field(default=1.0, ge=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
