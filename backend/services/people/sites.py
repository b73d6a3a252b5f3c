"""Sites (the HQ and remote offices) as HR admins keep them: where people work, with the time zone
their sessions and check-ins are read in and the coordinates check-in risk signals compare with.
At most one site of a company is its headquarters.

``check_site`` reads no database: imports run it on every CSV/XLSX row before anything is written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import Role, Site, Tenant, TrainingSession
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.people.accounts import valid_time_zone
from backend.services.people.org_units import (
    already_exists,
    check_code,
    check_text,
    code_taken,
    lock_structure,
    touch_profiles,
)
from backend.services.validation import invalid
from backend.services.viewer import Viewer

MAX_NAME = 200  # Site.name
MAX_ADDRESS = 300  # Site.address
LATITUDE = 90.0
LONGITUDE = 180.0

# A coordinate as text: ASCII digits (no full-width ３１), no exponent (``1e30``), GPS precision.
_COORDINATE = re.compile(r"[+-]?[0-9]{1,3}(\.[0-9]{1,15})?", re.ASCII)
# A yes/no cell of a spreadsheet (booleans from GraphQL pass as they are).
_YES = {"true", "yes", "y", "1", "是"}
_NO = {"false", "no", "n", "0", "否", ""}


@dataclass(frozen=True)
class SiteFields:
    """A site's checked fields; latitude and longitude are both set or both None."""

    code: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    time_zone: str
    is_headquarters: bool


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_coordinate(value: object, field: str, limit: float) -> float | None:
    """A latitude (``limit`` 90) or longitude (180) in degrees, None when blank; VALIDATION naming
    ``field`` for anything else than a finite number within ±limit (booleans, NaN, 1e30, ``３１``)."""
    if _blank(value):
        return None
    number = math.nan
    try:
        if isinstance(value, str):
            if _COORDINATE.fullmatch(value.strip()):
                number = float(value.strip())
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            number = float(value)
    except (OverflowError, ValueError, InvalidOperation):  # a huge int, a signalling NaN
        number = math.nan
    if not (math.isfinite(number) and -limit <= number <= limit):
        raise invalid(field, "reason.latitude" if limit == LATITUDE else "reason.longitude")
    return number


def check_coordinates(latitude: object, longitude: object) -> tuple[float | None, float | None]:
    """Latitude and longitude checked together: both given, or neither (VALIDATION naming the one
    missing)."""
    checked = check_coordinate(latitude, "latitude", LATITUDE), check_coordinate(longitude, "longitude", LONGITUDE)
    if checked[0] is None and checked[1] is not None:
        raise invalid("latitude", "reason.coordinates_pair")
    if checked[1] is None and checked[0] is not None:
        raise invalid("longitude", "reason.coordinates_pair")
    return checked


def check_time_zone(value: object, default_time_zone: str, field: str = "timeZone") -> str:
    """An IANA time zone name (``Asia/Urumqi``), ``default_time_zone`` (the company's) when blank."""
    if _blank(value):
        return default_time_zone
    if not isinstance(value, str) or not valid_time_zone(value.strip()):
        raise invalid(field, "reason.time_zone")
    return value.strip()


def check_yes_no(value: object, field: str) -> bool:
    """A boolean, or a spreadsheet's yes/no (true/false, 1/0, 是/否; blank is no)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise invalid(field, "reason.yes_no")


def check_site(
    code: object,
    name: object,
    address: object,
    latitude: object,
    longitude: object,
    time_zone: object,
    default_time_zone: str,
    is_headquarters: object,
) -> SiteFields:
    """A site's fields checked (``code``, ``name``, ``address``, ``latitude``, ``longitude``,
    ``timeZone``, ``isHeadquarters``), without the database."""
    return _with_details(
        check_code(code, "code"), name, address, latitude, longitude, time_zone, default_time_zone, is_headquarters
    )


def _with_details(
    code: str,
    name: object,
    address: object,
    latitude: object,
    longitude: object,
    time_zone: object,
    default_time_zone: str,
    is_headquarters: object,
) -> SiteFields:
    name = check_text(name, "name", MAX_NAME)
    address = check_text(address, "address", MAX_ADDRESS, required=False)
    checked_latitude, checked_longitude = check_coordinates(latitude, longitude)
    return SiteFields(
        code=code,
        name=name,
        address=address,
        latitude=checked_latitude,
        longitude=checked_longitude,
        time_zone=check_time_zone(time_zone, default_time_zone),
        is_headquarters=check_yes_no(is_headquarters, "isHeadquarters"),
    )


# --- writes (HR admins) ---------------------------------------------------------------------------

# What update_site may change: the names check_site takes.
SITE_FIELDS = ("code", "name", "address", "latitude", "longitude", "time_zone", "is_headquarters")


def snapshot(site: Site) -> dict[str, Any]:
    """The audited fields of a site."""
    return {
        "code": site.code,
        "name": site.name,
        "address": site.address,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "timeZone": site.time_zone,
        "isHeadquarters": site.is_headquarters,
    }


async def _default_time_zone(connection: BaseDBAsyncClient | None, tenant_id: int) -> str:
    tenant = await Tenant.filter(id=tenant_id).using_db(connection).only("id", "time_zone").first()
    return tenant.time_zone if tenant else "Asia/Shanghai"


async def _only_headquarters(connection: BaseDBAsyncClient, tenant_id: int, site: Site, viewer: Viewer) -> None:
    """Make ``site`` the company's one headquarters: the former one stops being it (audited)."""
    former = await Site.filter(tenant_id=tenant_id, is_headquarters=True).exclude(id=site.id).using_db(connection)
    for other in former:
        before = snapshot(other)
        other.is_headquarters = False
        await other.save(update_fields=["is_headquarters", "updated_at"], using_db=connection)
        await audit(
            connection, viewer, tenant_id, "site.update", "Site", other.id, {"before": before, "after": snapshot(other)}
        )


async def create_site(
    viewer: Viewer,
    code: object,
    name: object,
    address: object = None,
    latitude: object = None,
    longitude: object = None,
    time_zone: object = None,
    is_headquarters: object = False,
) -> Site:
    """A new site (HR admins); audited. Without a time zone it takes the company's; as the
    headquarters it replaces the former one in the same transaction."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    default_time_zone = await _default_time_zone(None, tenant_id)
    fields = check_site(code, name, address, latitude, longitude, time_zone, default_time_zone, is_headquarters)
    try:
        async with in_transaction() as connection:
            if fields.is_headquarters:
                await lock_structure(connection, tenant_id)  # two new headquarters at once: one wins
            if await code_taken(connection, Site, tenant_id, fields.code):
                raise already_exists("subject.site", fields.code)
            site = await Site.create(tenant_id=tenant_id, **_columns(fields), using_db=connection)
            if fields.is_headquarters:
                await _only_headquarters(connection, tenant_id, site, viewer)
            await audit(
                connection, viewer, tenant_id, "site.create", "Site", site.id, {"before": None, "after": snapshot(site)}
            )
    except IntegrityError:
        raise already_exists("subject.site", fields.code) from None
    return site


def _columns(fields: SiteFields) -> dict[str, Any]:
    return {
        "code": fields.code,
        "name": fields.name,
        "address": fields.address,
        "latitude": fields.latitude,
        "longitude": fields.longitude,
        "time_zone": fields.time_zone,
        "is_headquarters": fields.is_headquarters,
    }


async def update_site(viewer: Viewer, site_id: int, changes: dict[str, object]) -> Site:
    """Change a site (HR admins); audited. ``changes`` holds the fields given (names as
    check_site's); the rest stay. A blank time zone goes back to the company's; latitude and
    longitude are judged together as they will be. A new name or time zone reaches the phones of the
    site's active employees and its sessions."""
    viewer.require_role(Role.HR_ADMIN)
    unknown = set(changes) - set(SITE_FIELDS)
    if unknown:
        raise ValueError(f"not site fields: {sorted(unknown)}")
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    code = changes.get("code")
    try:
        async with in_transaction() as connection:
            if "is_headquarters" in changes:
                await lock_structure(connection, tenant_id)
            site = await Site.filter(tenant_id=tenant_id, id=site_id).select_for_update().using_db(connection).first()
            if site is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="siteId")
            before = snapshot(site)
            current = {**{name: getattr(site, name) for name in SITE_FIELDS}, **changes}
            # A code is judged when it changes; one that predates today's rules stays.
            unchanged = isinstance(current["code"], str) and current["code"].strip() == site.code
            fields = _with_details(
                site.code if unchanged else check_code(current["code"], "code"),
                current["name"],
                current["address"],
                current["latitude"],
                current["longitude"],
                current["time_zone"],
                await _default_time_zone(connection, tenant_id),
                current["is_headquarters"],
            )
            code = fields.code
            if fields.code != site.code and await code_taken(connection, Site, tenant_id, fields.code, site.id):
                raise already_exists("subject.site", fields.code)
            for column, value in _columns(fields).items():
                setattr(site, column, value)
            after = snapshot(site)
            if after == before:
                return site
            await site.save(update_fields=[*_columns(fields), "updated_at"], using_db=connection)
            if fields.is_headquarters and not before["isHeadquarters"]:
                await _only_headquarters(connection, tenant_id, site, viewer)
            await audit(
                connection, viewer, tenant_id, "site.update", "Site", site.id, {"before": before, "after": after}
            )
            if (after["name"], after["timeZone"]) != (before["name"], before["timeZone"]):
                feed = ChangeSet(tenant_id)
                await touch_profiles(connection, feed, tenant_id, site_id=site.id)
                sessions = TrainingSession.filter(tenant_id=tenant_id, site_id=site.id).using_db(connection)
                for session_id in await sessions.values_list("id", flat=True):
                    feed.touch(Entity.TRAINING_SESSION, session_id)
                await feed.publish(connection, now)
    except IntegrityError:
        raise already_exists("subject.site", str(code)) from None
    return site
