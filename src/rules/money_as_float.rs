//! money-as-float: amounts stored as `real`/`double precision`, or as `money`.

use super::new_columns::{NewColumn, introduced, list, verb};
use super::type_family::TypeClass;
use super::{Emitter, OpContext};

pub struct Rule;

/// Name parts that mark a column as holding an amount of money.
const MONEY_WORDS: &[&str] = &[
    "amount", "amt", "price", "prices", "balance", "cost", "costs", "total", "subtotal", "money",
    "fee", "fees", "tax", "vat", "salary", "wage", "payment", "revenue", "discount", "refund",
    "budget", "cents", "eur", "usd",
];

/// Splits `unitPrice`, `unit_price`, `total-eur` into lower-case words.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn money_like(name: &str) -> bool {
    words(name)
        .iter()
        .any(|w| MONEY_WORDS.contains(&w.as_str()))
}

fn float_money(c: &NewColumn) -> bool {
    matches!(TypeClass::of(c.ty), TypeClass::Float(_)) && money_like(c.name)
}

impl super::Rule for Rule {
    fn meta_yaml(&self) -> &'static str {
        include_str!("../../rules/money-as-float.yaml")
    }

    fn check_op(&self, cx: &OpContext, out: &mut Emitter) {
        let floats = introduced(cx, float_money);
        if !floats.is_empty() {
            out.emit(
                cx.span.clone(),
                None,
                format!(
                    "{} {} binary floating point, which cannot represent most decimal \
                     amounts exactly (0.1 + 0.2 <> 0.3)",
                    list(&floats),
                    verb(&floats)
                ),
                Some("sums and comparisons of amounts drift by fractions of a cent".into()),
                Some(
                    "use numeric(p, s) (e.g. numeric(12,2)), or bigint counting the smallest \
                     unit (cents)"
                        .into(),
                ),
            );
        }
        let money = introduced(cx, |c| TypeClass::of(c.ty) == TypeClass::Money);
        if !money.is_empty() {
            out.emit(
                cx.span.clone(),
                None,
                format!(
                    "{} {} of type money, whose formatting and scale follow the server's \
                     lc_monetary setting and which stores no currency",
                    list(&money),
                    verb(&money)
                ),
                Some("a dump restored under another locale reads different amounts".into()),
                Some(
                    "use numeric(p, s) plus a currency column, or bigint counting the \
                     smallest unit"
                        .into(),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_like_names() {
        assert!(money_like("price"));
        assert!(money_like("unit_price"));
        assert!(money_like("unitPrice"));
        assert!(money_like("total_amount"));
        assert!(!money_like("latitude"));
        assert!(!money_like("credit_score"));
        assert!(!money_like("totality"));
        assert!(!money_like("weight"));
    }
}
