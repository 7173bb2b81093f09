"""The service's settings: one typed class read from ``TIERLINE_*`` environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings", "settings_problem"]


class Settings(BaseSettings):
    """Validated at start-up; tests build their own and pass it to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="TIERLINE_", extra="ignore", frozen=True)

    # The store creates the SQLite file's folder (var/) when it opens.
    database_url: str = "sqlite:///var/tierline.db"
    models: str = "models"
    default_tier: str = Field(default="standard", min_length=1)
    batch_cap: int = Field(default=100, ge=1, le=10_000)
    max_body_bytes: int = Field(default=65_536, ge=1)
    # POST /v1/customers/bulk (a CRM's nightly sync): profiles per call, and its body limit.
    bulk_cap: int = Field(default=1000, ge=1, le=10_000)
    bulk_max_body_bytes: int = Field(default=2_097_152, ge=1)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    # Pairing-code redemptions per client address: a code is short, so guessing is throttled.
    pairing_attempts_per_minute: int = Field(default=10, ge=1)
    # How often each process looks at the champion pointer (one stat; a swap's delay).
    reload_seconds: float = Field(default=0.25, gt=0)
    # How long a checked key is trusted without reading the store (a revocation's delay).
    key_cache_seconds: float = Field(default=1.0, ge=0)
    # Decision and visit signals older than this many days are pruned (None: kept).
    retention_days: int | None = Field(default=None, ge=1)
    # How often a server prunes them (each worker; a pass is cheap when nothing aged).
    prune_seconds: float = Field(default=3600.0, gt=0)
    # "chain": one profile per customer for every site; "site": each site keeps its own.
    profiles: Literal["chain", "site"] = "chain"
    # A site's day (the manager's report) runs from its own local midnight to the next.
    timezone: str = "UTC"
    # "site=Zone,site=Zone"; a site not named here uses ``timezone``.
    site_timezones: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # The staff display's locale for times (BCP 47, e.g. "de-CH"); None: the browser's own.
    locale: str | None = None
    # "site=locale,site=locale"; a site not named here uses ``locale``.
    site_locales: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        return _checked_zone(name, "")

    @field_validator("site_timezones", mode="before")
    @classmethod
    def _site_zones(cls, value: Any) -> Any:
        return _site_pairs(value, "Zone", "lyon-1=Europe/Paris,nyc=America/New_York")

    @field_validator("site_locales", mode="before")
    @classmethod
    def _site_locales(cls, value: Any) -> Any:
        return _site_pairs(value, "locale", "zurich=de-CH,nyc=en-US")

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, tag: str | None) -> str | None:
        return None if tag is None or not tag.strip() else _checked_locale(tag, "")

    @field_validator("site_locales")
    @classmethod
    def _known_site_locales(cls, tags: dict[str, str]) -> dict[str, str]:
        return {site: _checked_locale(tag, f" for site {site!r}") for site, tag in tags.items()}

    @field_validator("site_timezones")
    @classmethod
    def _known_site_zones(cls, zones: dict[str, str]) -> dict[str, str]:
        return {site: _checked_zone(name, f" for site {site!r}") for site, name in zones.items()}

    def zone_for(self, site: str) -> ZoneInfo:
        """The time zone of ``site``'s day (``ZoneInfo`` caches each zone it has read)."""
        return ZoneInfo(self.site_timezones.get(site, self.timezone))

    def locale_for(self, site: str) -> str | None:
        """The locale the staff display formats ``site``'s times in (None: the browser's)."""
        return self.site_locales.get(site, self.locale)


def _site_pairs(value: Any, what: str, example: str) -> Any:
    """``"site=value,site=value"`` from the environment as a dict, each site once."""
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        site, sep, name = (s.strip() for s in item.partition("="))
        if not sep or not site or site in pairs:
            raise ValueError(
                f"{item!r} is not a new 'site={what}' pair; write it as '{example}', each site once"
            )
        pairs[site] = name
    return pairs


# A BCP 47 language tag's shape: a language, then subtags such as a script or a region.
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def _checked_locale(tag: str, where: str) -> str:
    tag = tag.strip()
    if not _LOCALE.fullmatch(tag):
        raise ValueError(
            f"{tag!r}{where} is not a locale; use a BCP 47 tag such as 'de-CH' or 'en-US'"
        )
    return tag


def _checked_zone(name: str, where: str) -> str:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # KeyError: ZoneInfoNotFoundError
        raise ValueError(
            f"unknown time zone {name!r}{where}; use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None
    return name


def settings_problem(error: ValidationError) -> str:
    """One line per bad ``TIERLINE_*`` variable: which one, and what is wrong with it."""
    return "; ".join(
        f"TIERLINE_{str(e['loc'][0]).upper() if e['loc'] else '?'}: "
        + e["msg"].removeprefix("Value error, ")
        for e in error.errors()
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
