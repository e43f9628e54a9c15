"""Korean banks a seller can be paid into, by the 3-digit code the interbank network (금융결제원) uses.

The list is data: when a bank merges or is renamed (대구은행 → iM뱅크, 2024) its code stays and
only the name here changes. A deployment outside Korea takes the bank's own identifier instead
(a US routing number), so only the KR list is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bank:
    """One bank: its interbank code and its names."""

    code: str
    name_ko: str
    name_en: str

    def name(self, lang: str) -> str:
        """The bank's name in the reader's language."""
        return self.name_ko if lang == "ko" else self.name_en


# Most-used first (how people look for their bank), then the rest.
KR_BANKS: tuple[Bank, ...] = (
    Bank("004", "KB국민은행", "KB Kookmin Bank"),
    Bank("088", "신한은행", "Shinhan Bank"),
    Bank("020", "우리은행", "Woori Bank"),
    Bank("081", "하나은행", "Hana Bank"),
    Bank("011", "NH농협은행", "NH NongHyup Bank"),
    Bank("003", "IBK기업은행", "IBK Industrial Bank of Korea"),
    Bank("090", "카카오뱅크", "KakaoBank"),
    Bank("092", "토스뱅크", "Toss Bank"),
    Bank("089", "케이뱅크", "K Bank"),
    Bank("023", "SC제일은행", "SC First Bank"),
    Bank("027", "한국씨티은행", "Citibank Korea"),
    Bank("032", "부산은행", "Busan Bank"),
    Bank("031", "iM뱅크(대구은행)", "iM Bank (Daegu Bank)"),
    Bank("034", "광주은행", "Kwangju Bank"),
    Bank("037", "전북은행", "Jeonbuk Bank"),
    Bank("039", "경남은행", "Kyongnam Bank"),
    Bank("035", "제주은행", "Jeju Bank"),
    Bank("007", "수협은행", "Suhyup Bank"),
    Bank("012", "지역농축협", "Local NongHyup"),
    Bank("045", "새마을금고", "MG Community Credit Cooperative"),
    Bank("048", "신협", "Shinhyup Credit Union"),
    Bank("050", "저축은행", "Savings banks"),
    Bank("064", "산림조합", "Forestry Cooperative"),
    Bank("071", "우체국", "Korea Post"),
    Bank("002", "KDB산업은행", "KDB Korea Development Bank"),
)
_BY_CODE = {b.code: b for b in KR_BANKS}
_LISTS = {"KR": KR_BANKS}


def banks_for(jurisdiction: str) -> tuple[Bank, ...]:
    """The banks to choose from; empty where the seller types the bank's identifier."""
    return _LISTS.get(jurisdiction, ())


def known(jurisdiction: str, code: str) -> bool:
    """True when `code` is a bank of this jurisdiction's list (always, where there is no list)."""
    listed = _LISTS.get(jurisdiction)
    return listed is None or any(b.code == code for b in listed)


def bank_name(code: str, lang: str) -> str:
    """'신한은행' for '088'; the code itself for a bank not on the list."""
    bank = _BY_CODE.get(code)
    return bank.name(lang) if bank else code
