"""Stable reason codes with plain messages in Korean and English. Codes are never renamed."""

from __future__ import annotations

from dataclasses import dataclass

LAWFUL_HELP_KO = (
    "급히 돈이 필요하시면 서민금융진흥원(☎1397)에서 합법적인 도움을 받을 수 있습니다. "
    "불법 대출·소액결제 현금화 권유는 금융감독원(☎1332)에 신고할 수 있습니다."
)
LAWFUL_HELP_EN = (
    "If you urgently need money, the Korea Inclusive Finance Agency (☎1397) offers lawful help. "
    "Illegal lending or 'carrier-billing cash-out' offers can be reported to the "
    "Financial Supervisory Service (☎1332)."
)


@dataclass(frozen=True)
class Reason:
    """One reason a trade was refused or held."""

    code: str
    en: str
    ko: str

    def message(self, lang: str) -> str:
        """The message in `lang` ("ko" or anything else for English)."""
        return self.ko if lang == "ko" else self.en


_REASONS = [
    Reason(
        "carrier_billing_prohibited",
        "We never buy vouchers paid for with mobile carrier billing. Selling them for cash is "
        "a disguised loan at an extreme rate and a crime in Korea (Information and "
        "Communications Network Act, Art. 72(1)4). " + LAWFUL_HELP_EN,
        "휴대폰 소액결제로 구매한 상품권은 매입하지 않습니다. 소액결제 현금화는 사실상 고금리 "
        "대출이며 정보통신망법 제72조 제1항 제4호에 따라 처벌되는 범죄입니다. " + LAWFUL_HELP_KO,
    ),
    Reason(
        "duplicate_voucher",
        "This voucher code has already been submitted to us. Each voucher can be sold once.",
        "이미 접수된 상품권 번호입니다. 상품권은 한 번만 판매할 수 있습니다.",
    ),
    Reason(
        "voucher_invalid",
        "The issuer does not recognise this code or PIN. Check it and submit again with a new quote.",
        "발행사에서 확인되지 않는 번호 또는 PIN입니다. 확인 후 새 견적으로 다시 접수해 주세요.",
    ),
    Reason(
        "voucher_already_redeemed",
        "The issuer says this voucher has already been used.",
        "발행사에 따르면 이미 사용된 상품권입니다.",
    ),
    Reason(
        "voucher_expired",
        "The issuer says this voucher has expired.",
        "발행사에 따르면 유효기간이 지난 상품권입니다.",
    ),
    Reason(
        "voucher_blocked",
        "The issuer has blocked this voucher. If you bought it, contact the issuer.",
        "발행사가 이 상품권을 정지했습니다. 직접 구매하셨다면 발행사에 문의해 주세요.",
    ),
    Reason(
        "balance_mismatch",
        "The voucher's balance differs from the face value you were quoted. Ask for a new "
        "quote for the actual balance; we never change an offer silently.",
        "상품권 잔액이 견적의 액면가와 다릅니다. 실제 잔액으로 새 견적을 받아 주세요. "
        "제안 금액을 임의로 바꾸지 않습니다.",
    ),
    Reason(
        "brand_suspended",
        "We are not buying this brand at the moment because its issuer is not safe to deal with.",
        "발행사의 사정으로 현재 이 상품권은 매입하지 않습니다.",
    ),
    Reason(
        "brand_paused",
        "We have paused buying this brand for now. Please try again later.",
        "현재 이 상품권의 매입을 잠시 중단했습니다. 나중에 다시 시도해 주세요.",
    ),
    Reason(
        "quote_expired",
        "Your quote has expired. Ask for a new one; it is valid for 15 minutes.",
        "견적이 만료되었습니다. 새 견적을 받아 주세요. 견적은 15분간 유효합니다.",
    ),
    Reason(
        "kyc_required",
        "Verify your identity and add a bank account in your own name before selling.",
        "판매하시려면 본인 인증을 하고 본인 명의 계좌를 등록해 주세요.",
    ),
    Reason(
        "limit_exceeded",
        "This sale would take you over your daily or monthly limit. Verify your ID document "
        "to raise it, or sell again when the limit resets.",
        "일일 또는 월간 한도를 넘습니다. 신분증 인증으로 한도를 올리거나 한도가 갱신된 뒤 "
        "다시 판매해 주세요.",
    ),
    Reason(
        "velocity",
        "Unusually many sales in a short time: a person will check this trade.",
        "짧은 시간에 거래가 많아 담당자가 확인합니다.",
    ),
    Reason(
        "sanctions_match",
        "We cannot trade with this name because of sanctions screening.",
        "제재 대상 확인 결과 거래할 수 없습니다.",
    ),
    Reason(
        "payout_destination_mismatch",
        "The bank account must be in your own verified name. Add an account in your name.",
        "입금 계좌는 인증된 본인 명의여야 합니다. 본인 명의 계좌를 등록해 주세요.",
    ),
    Reason(
        "underage",
        "You must be an adult to sell vouchers here.",
        "성인만 상품권을 판매할 수 있습니다.",
    ),
    Reason(
        "issuer_unavailable",
        "The issuer could not be reached for too long. Nothing was taken from your voucher.",
        "발행사와 오랫동안 연결되지 않았습니다. 상품권은 사용되지 않았습니다.",
    ),
    Reason(
        "payout_account_shared",
        "This bank account is used by more than one seller: a person will check this trade.",
        "여러 판매자가 같은 계좌를 사용하고 있어 담당자가 확인합니다.",
    ),
    Reason(
        "payout_account_rotation",
        "Several different bank accounts were used recently: a person will check this trade.",
        "최근 여러 계좌가 사용되어 담당자가 확인합니다.",
    ),
    Reason(
        "account_takeover",
        "A new bank account followed by quick sales: a person will check that it is really you.",
        "새 계좌 등록 직후 판매가 이어져 본인 여부를 담당자가 확인합니다.",
    ),
    Reason(
        "fresh_voucher_pattern",
        "Vouchers sold soon after purchase, several times: a person checks this trade before we buy it.",
        "구매한 지 얼마 안 된 상품권 판매가 여러 번 이어져, 매입 전에 담당자가 한 번 더 확인합니다.",
    ),
    Reason(
        "scam_favoured_new_account",
        "High-value gift cards from a new account: a person will check this trade. If someone asked you "
        "to buy gift cards to pay a debt, a fine or a stranger, it is a scam — call the police (☎112).",
        "신규 계정의 고액 기프트카드 판매라 담당자가 확인합니다. 누군가 빚·벌금·송금 명목으로 "
        "기프트카드 구매를 요구했다면 사기입니다. 경찰(☎112)에 신고하세요.",
    ),
    Reason(
        "cumulative_daily",
        "Today's sales are unusually large in total: a person will check this trade.",
        "오늘 누적 판매 금액이 커서 담당자가 확인합니다.",
    ),
    Reason(
        "prior_false_declaration",
        "An earlier acquisition declaration did not match the issuer's records: a person will check.",
        "이전 구매 경로 신고가 발행사 기록과 달라 담당자가 확인합니다.",
    ),
    Reason(
        "risk_score",
        "Several small warning signs together: a person will check this trade.",
        "여러 위험 신호가 함께 나타나 담당자가 확인합니다.",
    ),
    Reason(
        "reviewer_rejected",
        "A reviewer declined this trade. Nothing was taken from your voucher.",
        "담당자가 이 거래를 거절했습니다. 상품권은 사용되지 않았습니다.",
    ),
    # Not refusals of the voucher: what happened to the money afterwards, and what the seller can do.
    Reason(
        "payout_refused",
        "Your bank refused the transfer (for example a closed account or a name that does not "
        "match). Your money is safe with us: choose or add another account in your own name and "
        "we send it again.",
        "은행이 입금을 거절했습니다(해지된 계좌, 예금주 불일치 등). 판매 대금은 안전하게 보관 중입니다. "
        "본인 명의의 다른 계좌를 선택하거나 추가하시면 다시 보내 드립니다.",
    ),
    Reason(
        "voucher_reversed",
        "The issuer reported this voucher as stolen, fraudulent or charged back after we paid you. "
        "The amount is now owed back and held against your next payouts; you can appeal once.",
        "대금을 지급한 뒤 발행사가 이 상품권을 도난·사기·결제 취소로 신고했습니다. 지급액은 반환 대상이며 "
        "다음 지급에서 차감됩니다. 한 번 이의를 제기하실 수 있습니다.",
    ),
    Reason(
        "fraud_report",
        "Someone reported this voucher as stolen or taken in a scam. A reviewer checks the report "
        "before anything is paid; you will hear from us.",
        "이 상품권이 도난 또는 사기 피해품이라는 신고가 접수되었습니다. 지급 전에 담당자가 신고 내용을 "
        "확인하며, 결과를 알려 드리겠습니다.",
    ),
]

REASONS: dict[str, Reason] = {r.code: r for r in _REASONS}


def reason(code: str) -> Reason:
    """The reason for a code; unknown codes are a programming error."""
    return REASONS[code]


def render(
    codes: list[str], lang: str, overrides: dict[str, dict[str, str]] | None = None
) -> list[dict[str, str]]:
    """`[{code, message}]` in the reader's language; a rule set's own messages win."""
    out = []
    for code in codes:
        custom = (overrides or {}).get(code)
        if custom:
            message = custom["ko"] if lang == "ko" else custom["en"]
        elif code in REASONS:
            message = REASONS[code].message(lang)
        else:
            message = REASONS["risk_score"].message(lang)
        out.append({"code": code, "message": message})
    return out
