"""The business profile and consent documents: plain values, no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from enum import StrEnum

from voucher_exchange.errors import InvalidInput


@dataclass(frozen=True)
class BusinessProfile:
    """Who runs this exchange, as Korean law asks a seller-facing site to show it."""

    business_name: str  # 상호
    representative: str  # 대표자
    registration_number: str  # 사업자등록번호
    mail_order_number: str  # 통신판매업 신고번호
    address: str
    support_phone: str  # 고객센터
    support_email: str
    support_hours: str
    kakao_channel_url: str
    # The name sellers know the service by (header, page titles, e-mails, receipts); blank = business_name.
    service_name: str = ""
    # True while the operator has not saved a profile: every page says these are demo values.
    is_demo: bool = False

    @classmethod
    def from_fields(cls, values: Mapping[str, str]) -> BusinessProfile:
        """A saved (not demo) profile from its fields by name."""
        return cls(
            business_name=values["business_name"],
            representative=values["representative"],
            registration_number=values["registration_number"],
            mail_order_number=values["mail_order_number"],
            address=values["address"],
            support_phone=values["support_phone"],
            support_email=values["support_email"],
            support_hours=values["support_hours"],
            kakao_channel_url=values["kakao_channel_url"],
            service_name=values.get("service_name", ""),
        )

    def as_fields(self) -> dict[str, str]:
        """The editable fields, by name (what the audit log compares)."""
        return {k: v for k, v in asdict(self).items() if k != "is_demo"}

    @property
    def display_name(self) -> str:
        """The one name every page, e-mail and receipt shows (the service name, else the business name)."""
        return self.service_name or self.business_name

    def issuer_block(self) -> dict[str, object]:
        """What a newly signed receipt says about its issuer (strings, and `demo` when it is one)."""
        block: dict[str, object] = {
            "service_name": self.display_name,
            "business_name": self.business_name,
            "representative": self.representative,
            "registration_number": self.registration_number,
            "mail_order_number": self.mail_order_number,
            "address": self.address,
            "support_phone": self.support_phone,
            "support_email": self.support_email,
        }
        if self.is_demo:
            block["demo"] = True
        return block

    @property
    def ftc_link(self) -> str:
        """공정거래위원회 사업자정보 확인 for this registration number (통신판매사업자 공개 조회)."""
        digits = "".join(c for c in self.registration_number if c.isdigit())
        return f"https://www.ftc.go.kr/bizCommPop.do?wrkr_no={digits}"

    @property
    def phone_link(self) -> str:
        """The support phone as a `tel:` target (digits and + only)."""
        return "tel:" + "".join(c for c in self.support_phone if c.isdigit() or c == "+")


# The service name first: it is what the operator's sellers see most.
PROFILE_FIELDS = (
    "service_name",
    *(f.name for f in fields(BusinessProfile) if f.name not in ("is_demo", "service_name")),
)
# Every field is needed except the KakaoTalk channel (not every business has one) and the
# service name (blank: the business name is the service's name).
REQUIRED_FIELDS = tuple(f for f in PROFILE_FIELDS if f not in ("kakao_channel_url", "service_name"))
FIELD_MAX = {"address": 200, "kakao_channel_url": 200, "support_email": 254, "service_name": 40}

DEMO_PROFILE = BusinessProfile(
    business_name="(주)바우처익스체인지 데모",
    representative="홍길동",
    registration_number="000-00-00000",
    mail_order_number="제2026-서울강남-00000호",
    address="서울특별시 강남구 테헤란로 000, 0층 (데모 주소)",
    support_phone="1588-0000",
    support_email="help@voucher-exchange.test",
    support_hours="평일 09:00–18:00 (점심 12:00–13:00)",
    kakao_channel_url="https://pf.kakao.com/_demo",
    service_name="바우처익스체인지",
    is_demo=True,
)


# 사업자등록번호: 10 digits, the last a check digit over the first nine with these weights (the
# ninth digit's weighted value also adds its tens, as the National Tax Service computes it).
_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def valid_business_number(text: str) -> str | None:
    """A 사업자등록번호 written 123-45-67891, or None when it is not 10 digits adding up."""
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) != 10 or any(c not in "0123456789- " for c in text):
        return None
    total = sum(d * w for d, w in zip(digits[:9], _BRN_WEIGHTS, strict=True)) + digits[8] * 5 // 10
    if (10 - total % 10) % 10 != digits[9]:
        return None
    joined = "".join(map(str, digits))
    return f"{joined[:3]}-{joined[3:5]}-{joined[5:]}"


def checked_profile(values: dict[str, str], jurisdiction: str = "KR") -> BusinessProfile:
    """A profile from an operator's form; a clear field error for a missing or malformed value.

    In Korea the 사업자등록번호 must add up (sellers check it on the 공정위 사업자정보 page)."""
    cleaned = {name: values.get(name, "").strip() for name in PROFILE_FIELDS}
    for name in REQUIRED_FIELDS:
        if not cleaned[name]:
            raise InvalidInput("profile_field_required", "Fill in every field of the business profile.", name)
    for name, value in cleaned.items():
        if len(value) > FIELD_MAX.get(name, 100):
            raise InvalidInput("profile_field_too_long", "This field is too long.", name)
    if "@" not in cleaned["support_email"]:
        raise InvalidInput("profile_email_invalid", "Enter the support e-mail address.", "support_email")
    link = cleaned["kakao_channel_url"]
    if link and not link.startswith("https://"):
        raise InvalidInput(
            "profile_link_invalid", "The KakaoTalk channel link starts with https://.", "kakao_channel_url"
        )
    if not any(c.isdigit() for c in cleaned["support_phone"]):
        raise InvalidInput("profile_phone_invalid", "Enter the support phone number.", "support_phone")
    if jurisdiction == "KR":
        number = valid_business_number(cleaned["registration_number"])
        if number is None:
            raise InvalidInput(
                "registration_number_invalid",
                "A business registration number has 10 digits and its last digit must add up. Check it.",
                "registration_number",
            )
        cleaned["registration_number"] = number
    return BusinessProfile.from_fields(cleaned)


def changes(before: BusinessProfile, after: BusinessProfile) -> dict[str, dict[str, str]]:
    """Field → {before, after} for each field that differs (what the audit entry records)."""
    old, new = before.as_fields(), after.as_fields()
    return {
        name: {"before": old[name], "after": new[name]} for name in PROFILE_FIELDS if old[name] != new[name]
    }


class ConsentKind(StrEnum):
    """What a seller agrees to at sign-up; each has its own versioned text."""

    TERMS = "terms"
    """이용약관: the terms of use (required)."""
    PRIVACY = "privacy"
    """개인정보 수집·이용: collection and use of personal data (required)."""
    MARKETING = "marketing"
    """마케팅 정보 수신: offers by e-mail (optional, never needed to use the service)."""


REQUIRED_CONSENTS = (ConsentKind.TERMS, ConsentKind.PRIVACY)
TITLE_MAX = 200
BODY_MAX = 50_000
# A new version of a text sellers already accepted takes effect at least this many days after it is
# published (they are e-mailed the day it is published); a kind's first text may apply the same day.
NOTICE_DAYS = 7
# …and at most this far ahead (a date further out is almost always a typo of the year).
AHEAD_MAX_DAYS = 365
# The job that e-mails one seller about a new version: ref `<kind>:<version>:<user id>`.
CONSENT_NOTICE = "trust.consent_notice"


@dataclass(frozen=True)
class ConsentDocument:
    """One version of a consent text; a change is a new version, old ones are kept."""

    kind: ConsentKind
    version: int
    title: str  # Korean
    body: str
    published_at: datetime | None
    published_by: str | None
    title_en: str = ""
    body_en: str = ""
    effective_at: datetime | None = None  # None: the demo text, always in force

    @property
    def is_demo(self) -> bool:
        """True for the built-in text shipped for the demo (version 0, never published)."""
        return self.version == 0

    def in_language(self, lang: str) -> tuple[str, str]:
        """(title, body) as a reader of `lang` sees it (Korean is the text of record)."""
        if lang == "en" and self.title_en:
            return self.title_en, self.body_en
        return self.title, self.body


@dataclass(frozen=True)
class Draft:
    """A new version as the operator typed it, before it is published."""

    kind: ConsentKind
    title: str  # Korean
    body: str
    title_en: str
    body_en: str
    effective_on: date  # the jurisdiction's calendar day it takes effect


def check_effective_day(chosen: date, today: date, first: bool, scheduled: date | None) -> None:
    """Refuse an effective date a seller could not rely on.

    `today` is the jurisdiction's date; `first` is True when no version of this kind was published
    (nobody accepted a text of ours yet); `scheduled` is the day of a version not yet in force.
    """
    earliest = today if first else date.fromordinal(today.toordinal() + NOTICE_DAYS)
    if chosen < earliest:
        raise InvalidInput(
            "document_effective_too_soon",
            "Sellers must be told at least 7 days ahead: choose a date 7 or more days from today.",
            "effective_on",
        )
    if chosen.toordinal() - today.toordinal() > AHEAD_MAX_DAYS:
        raise InvalidInput(
            "document_effective_too_far", "Choose a date within a year from today.", "effective_on"
        )
    if scheduled is not None and chosen < scheduled:
        raise InvalidInput(
            "document_effective_before_scheduled",
            "A newer version cannot take effect before the one already scheduled.",
            "effective_on",
        )


@dataclass(frozen=True)
class Acceptance:
    """The consent versions one seller accepts at sign-up, and through which channel."""

    versions: dict[ConsentKind, int]
    channel: str  # "web" or "api"


def accept(current: dict[ConsentKind, ConsentDocument], ticked: set[ConsentKind], channel: str) -> Acceptance:
    """The versions accepted by ticking `ticked`; refuses when a required item is missing."""
    for kind in REQUIRED_CONSENTS:
        if kind not in ticked:
            raise InvalidInput(
                "consent_required",
                "Agree to the terms of use and to the collection and use of personal data to sign up.",
                f"consent_{kind.value}",
            )
    return Acceptance({kind: current[kind].version for kind in ConsentKind if kind in ticked}, channel)
