//! Draws a [`DocumentModel`] as an A4 PDF with krilla. `DejaVu Sans` is embedded (subset, with a
//! Unicode map, so accents and Cyrillic print and extract intact). Layout happens first, into
//! pages of drawing operations, so that every page can say "page n of N".

use std::sync::LazyLock;

use krilla::{
    Document,
    color::rgb,
    geom::{PathBuilder, Point, Size, Transform},
    image::Image,
    metadata::Metadata,
    page::PageSettings,
    paint::{Fill, Stroke},
    text::{Font, TextDirection},
};
use rust_decimal::Decimal;
use skrifa::{
    FontRef, MetadataProvider,
    instance::{LocationRef, Size as FontSize},
};

use super::model::{DocumentLine, DocumentModel, DocumentTotals, Party};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 42.0;
const BOTTOM: f32 = PAGE_HEIGHT - 60.0;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("krilla: {0:?}")]
    Pdf(krilla::error::KrillaError),
}

/// Advance widths, to measure text before drawing it.
struct Metrics {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    Some(Metrics {
        regular: FontRef::new(REGULAR).ok()?,
        bold: FontRef::new(BOLD).ok()?,
    })
});

impl Metrics {
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let font = if bold { &self.bold } else { &self.regular };
        let charmap = font.charmap();
        let glyphs = font.glyph_metrics(FontSize::new(size), LocationRef::default());
        text.chars()
            .map(|c| {
                charmap
                    .map(c)
                    .and_then(|g| glyphs.advance_width(g))
                    .unwrap_or(size * 0.5)
            })
            .sum()
    }

    /// Splits `text` into lines no wider than `max`, at spaces (a word longer than a line is
    /// cut where it overflows).
    fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= max {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let mut piece = String::new();
                for c in word.chars() {
                    piece.push(c);
                    if self.width(&piece, size, bold) > max && piece.chars().count() > 1 {
                        piece.pop();
                        lines.push(std::mem::take(&mut piece));
                        piece.push(c);
                    }
                }
                line = piece;
            }
            lines.push(line);
        }
        while lines.last().is_some_and(String::is_empty) && lines.len() > 1 {
            lines.pop();
        }
        lines
    }
}

/// One drawing operation, positioned (points, from the top left).
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
    },
    Logo {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
}

/// Pages being laid out, and where the next line goes.
struct Layout<'m> {
    metrics: &'m Metrics,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout<'_> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.ops().push(Op::Text {
                x,
                y,
                size,
                bold,
                text,
            });
        }
    }

    fn right(&mut self, right: f32, y: f32, size: f32, bold: bool, text: &str) {
        let width = self.metrics.width(text, size, bold);
        self.text(right - width, y, size, bold, text);
    }

    fn rule(&mut self, y: f32) {
        self.ops().push(Op::Rule {
            x1: MARGIN,
            x2: RIGHT,
            y,
        });
    }

    /// Starts a new page when `height` more points do not fit; returns whether it did.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN + 10.0;
            true
        } else {
            false
        }
    }
}

fn money(value: Decimal, currency: &str) -> String {
    format!("{} {currency}", crate::kernel::money::display(value))
}

fn percent(value: Decimal) -> String {
    format!("{} %", value.normalize())
}

/// Renders `model` as PDF bytes. CPU-bound: call it off the async runtime for big documents.
pub fn render(model: &DocumentModel) -> Result<Vec<u8>, RenderError> {
    let metrics = METRICS.as_ref().ok_or(RenderError::Font)?;
    let mut layout = Layout {
        metrics,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    let logo = model.logo.as_ref().and_then(|logo| {
        let data = logo.bytes.clone().into();
        match logo.content_type.as_str() {
            "image/png" => Image::from_png(data, true).ok(),
            "image/jpeg" => Image::from_jpeg(data, true).ok(),
            _ => None,
        }
    });
    header(&mut layout, model, logo.as_ref());
    parties(&mut layout, model);
    let priced = model.totals.is_some();
    table(&mut layout, model, priced);
    if let Some(totals) = &model.totals {
        totals_block(&mut layout, totals, &model.currency);
    }
    terms(&mut layout, model);
    draw(model, layout.pages, logo.as_ref())
}

fn header(layout: &mut Layout<'_>, model: &DocumentModel, logo: Option<&Image>) {
    let mut y = MARGIN;
    if let Some(image) = logo {
        let (w, h) = image.size();
        #[allow(clippy::cast_precision_loss)]
        let (w, h) = (w.max(1) as f32, h.max(1) as f32);
        let scale = (140.0 / w).min(50.0 / h);
        layout.ops().push(Op::Logo {
            x: MARGIN,
            y,
            width: w * scale,
            height: h * scale,
        });
        y += h * scale + 8.0;
    }
    // The seller, top left.
    y += 14.0;
    layout.text(MARGIN, y, 13.0, true, model.seller.name.clone());
    for line in model.seller.address.iter().chain(&model.seller.contact) {
        y += 12.0;
        layout.text(MARGIN, y, 9.0, false, line.clone());
    }
    if !model.seller.vat_id.is_empty() {
        y += 12.0;
        layout.text(
            MARGIN,
            y,
            9.0,
            false,
            format!("VAT ID: {}", model.seller.vat_id),
        );
    }
    // The document, top right.
    let mut ry = MARGIN + 18.0;
    layout.right(RIGHT, ry, 18.0, true, model.kind.title());
    ry += 18.0;
    layout.right(RIGHT, ry, 11.0, true, &model.number);
    ry += 14.0;
    let issued = format!("Date: {}", super::model::date(model.issued_at));
    layout.right(RIGHT, ry, 9.0, false, &issued);
    for (label, value) in &model.facts {
        ry += 12.0;
        layout.right(RIGHT, ry, 9.0, false, &format!("{label}: {value}"));
    }
    layout.y = y.max(ry) + 24.0;
}

fn party_lines(party: &Party) -> Vec<String> {
    let mut lines: Vec<String> = party.address.clone();
    if !party.vat_id.is_empty() {
        lines.push(format!("VAT ID: {}", party.vat_id));
    }
    lines.extend(party.contact.iter().cloned());
    lines
}

fn parties(layout: &mut Layout<'_>, model: &DocumentModel) {
    let top = layout.y;
    let mut blocks = vec![(model.customer_label.as_str(), &model.customer, MARGIN)];
    if let Some(delivery) = &model.delivery {
        blocks.push(("Deliver to", delivery, PAGE_WIDTH / 2.0 + 10.0));
    }
    let width = PAGE_WIDTH / 2.0 - MARGIN - 10.0;
    let mut bottom = top;
    for (label, party, x) in blocks {
        let mut y = top;
        layout.text(x, y, 8.0, true, label.to_uppercase());
        y += 14.0;
        for line in layout.metrics.wrap(&party.name, 11.0, true, width) {
            layout.text(x, y, 11.0, true, line);
            y += 13.0;
        }
        for line in party_lines(party) {
            for part in layout.metrics.wrap(&line, 9.0, false, width) {
                layout.text(x, y, 9.0, false, part);
                y += 11.0;
            }
        }
        bottom = bottom.max(y);
    }
    layout.y = bottom + 16.0;
}

/// Column positions: reference, description, then right-aligned numbers.
struct Columns {
    description: f32,
    description_width: f32,
    quantity: f32,
    unit: f32,
    discount: f32,
    vat: f32,
    total: f32,
}

const PRICED: Columns = Columns {
    description: MARGIN + 62.0,
    description_width: 205.0,
    quantity: 340.0,
    unit: 405.0,
    discount: 448.0,
    vat: 488.0,
    total: RIGHT,
};

const UNPRICED: Columns = Columns {
    description: MARGIN + 80.0,
    description_width: 360.0,
    quantity: RIGHT,
    unit: 0.0,
    discount: 0.0,
    vat: 0.0,
    total: 0.0,
};

fn table_head(layout: &mut Layout<'_>, columns: &Columns, priced: bool) {
    let y = layout.y;
    layout.text(MARGIN, y, 8.0, true, "REFERENCE");
    layout.text(columns.description, y, 8.0, true, "DESCRIPTION");
    layout.right(columns.quantity, y, 8.0, true, "QTY");
    if priced {
        layout.right(columns.unit, y, 8.0, true, "UNIT PRICE");
        layout.right(columns.discount, y, 8.0, true, "DISC.");
        layout.right(columns.vat, y, 8.0, true, "VAT");
        layout.right(columns.total, y, 8.0, true, "TOTAL");
    }
    layout.rule(y + 4.0);
    layout.y = y + 16.0;
}

fn table(layout: &mut Layout<'_>, model: &DocumentModel, priced: bool) {
    let columns = if priced { &PRICED } else { &UNPRICED };
    table_head(layout, columns, priced);
    for line in &model.lines {
        let rows = line_rows(layout.metrics, line, columns);
        #[allow(clippy::cast_precision_loss)] // a handful of rows
        let height = rows.len() as f32 * 11.0 + 6.0;
        if layout.ensure(height) {
            table_head(layout, columns, priced);
        }
        let y = layout.y;
        let reference = layout.metrics.wrap(
            &line.reference,
            8.0,
            false,
            columns.description - MARGIN - 6.0,
        );
        for (i, part) in reference.into_iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            layout.text(MARGIN, y + i as f32 * 10.0, 8.0, false, part);
        }
        cells(layout, line, columns, priced, &model.currency, y);
        let mut ry = y;
        for (text, small) in rows {
            let size = if small { 7.5 } else { 9.0 };
            layout.text(columns.description, ry, size, false, text);
            ry += 11.0;
        }
        layout.y = ry + 6.0;
    }
    layout.rule(layout.y - 4.0);
    layout.y += 8.0;
}

/// The description and detail lines of one table line, wrapped to the column.
fn line_rows(metrics: &Metrics, line: &DocumentLine, columns: &Columns) -> Vec<(String, bool)> {
    let mut rows: Vec<(String, bool)> = metrics
        .wrap(&line.description, 9.0, false, columns.description_width)
        .into_iter()
        .map(|l| (l, false))
        .collect();
    for detail in &line.details {
        rows.extend(
            metrics
                .wrap(detail, 7.5, false, columns.description_width)
                .into_iter()
                .map(|l| (l, true)),
        );
    }
    rows
}

fn cells(
    layout: &mut Layout<'_>,
    line: &DocumentLine,
    columns: &Columns,
    priced: bool,
    currency: &str,
    y: f32,
) {
    if let Some(quantity) = line.quantity {
        layout.right(columns.quantity, y, 9.0, false, &quantity.to_string());
    }
    if !priced {
        return;
    }
    if let Some(price) = line.unit_price {
        layout.right(
            columns.unit,
            y,
            9.0,
            false,
            &crate::kernel::money::display(price).to_string(),
        );
    }
    layout.right(columns.discount, y, 8.0, false, &line.discount);
    if let Some(rate) = line.vat_rate {
        layout.right(columns.vat, y, 8.0, false, &percent(rate));
    }
    if let Some(total) = line.total {
        layout.right(columns.total, y, 9.0, false, &money(total, currency));
    }
}

fn totals_block(layout: &mut Layout<'_>, totals: &DocumentTotals, currency: &str) {
    let mut rows: Vec<(String, String, bool)> = vec![(
        "Lines total".to_owned(),
        money(totals.lines_total, currency),
        false,
    )];
    if !totals.discount.is_zero() {
        rows.push((
            format!("Discount {}", percent(totals.discount_percent)),
            money(-totals.discount, currency),
            false,
        ));
    }
    if !totals.shipping.is_zero() {
        rows.push((
            "Shipping".to_owned(),
            money(totals.shipping, currency),
            false,
        ));
    }
    rows.push((
        "Subtotal excl. VAT".to_owned(),
        money(totals.subtotal, currency),
        false,
    ));
    for vat in &totals.vat {
        rows.push((
            format!("VAT {} on {}", percent(vat.rate), money(vat.base, currency)),
            money(vat.amount, currency),
            false,
        ));
    }
    rows.push((
        "Total VAT".to_owned(),
        money(totals.vat_total, currency),
        false,
    ));
    rows.push((
        "Total incl. VAT".to_owned(),
        money(totals.total, currency),
        true,
    ));
    if let Some(paid) = totals.paid.filter(|p| !p.is_zero()) {
        rows.push(("Paid".to_owned(), money(paid, currency), false));
    }
    if let Some(balance) = totals.balance_due {
        rows.push(("Balance due".to_owned(), money(balance, currency), true));
    }
    #[allow(clippy::cast_precision_loss)]
    layout.ensure(rows.len() as f32 * 14.0 + 10.0);
    let label_x = PAGE_WIDTH / 2.0 + 20.0;
    for (label, value, bold) in rows {
        let y = layout.y;
        let size = if bold { 10.0 } else { 9.0 };
        layout.text(label_x, y, size, bold, label);
        layout.right(RIGHT, y, size, bold, &value);
        layout.y += 14.0;
    }
    layout.y += 12.0;
}

fn terms(layout: &mut Layout<'_>, model: &DocumentModel) {
    let width = RIGHT - MARGIN;
    for paragraph in model.terms.iter().chain(&model.notes) {
        for line in layout.metrics.wrap(paragraph, 9.0, false, width) {
            layout.ensure(12.0);
            let y = layout.y;
            layout.text(MARGIN, y, 9.0, false, line);
            layout.y += 12.0;
        }
        layout.y += 4.0;
    }
}

fn draw(
    model: &DocumentModel,
    pages: Vec<Vec<Op>>,
    logo: Option<&Image>,
) -> Result<Vec<u8>, RenderError> {
    let regular = Font::new(REGULAR.into(), 0).ok_or(RenderError::Font)?;
    let bold = Font::new(BOLD.into(), 0).ok_or(RenderError::Font)?;
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} {}", model.kind.title(), model.number))
            .creator("Comptoir".to_owned()),
    );
    let count = pages.len();
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or(RenderError::Font)?;
    for (index, ops) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        surface.set_fill(Some(Fill {
            paint: rgb::Color::new(20, 20, 20).into(),
            ..Fill::default()
        }));
        let footer = format!(
            "{} {} · page {} of {count}",
            model.kind.title(),
            model.number,
            index + 1
        );
        let footer_ops = std::iter::once(Op::Text {
            x: MARGIN,
            y: PAGE_HEIGHT - 30.0,
            size: 7.5,
            bold: false,
            text: footer,
        });
        for op in ops.into_iter().chain(footer_ops) {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: is_bold,
                    text,
                } => {
                    let font = if is_bold {
                        bold.clone()
                    } else {
                        regular.clone()
                    };
                    surface.draw_text(
                        Point::from_xy(x, y),
                        font,
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Rule { x1, x2, y } => {
                    let mut builder = PathBuilder::new();
                    builder.move_to(x1, y);
                    builder.line_to(x2, y);
                    if let Some(path) = builder.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(150, 150, 150).into(),
                            width: 0.6,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill {
                            paint: rgb::Color::new(20, 20, 20).into(),
                            ..Fill::default()
                        }));
                    }
                }
                Op::Logo {
                    x,
                    y,
                    width,
                    height,
                } => {
                    if let (Some(image), Some(size)) = (logo, Size::from_wh(width, height)) {
                        surface.push_transform(&Transform::from_translate(x, y));
                        surface.draw_image(image.clone(), size);
                        surface.pop();
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(RenderError::Pdf)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rust_decimal::Decimal;

    use super::*;
    use crate::documents::model::{DocumentKind, DocumentTotals, Party, VatAmount};

    fn long_invoice(lines: usize) -> DocumentModel {
        DocumentModel {
            kind: DocumentKind::Invoice,
            number: "INV-2026-000042".to_owned(),
            issued_at: Utc::now(),
            facts: vec![("Order".to_owned(), "ORD-000007".to_owned())],
            seller: Party {
                name: "Imprimerie Lumière".to_owned(),
                address: vec!["12 rue de l'Épée".to_owned(), "75005 Paris".to_owned()],
                vat_id: "FR12345678901".to_owned(),
                contact: vec![],
            },
            logo: None,
            issued_logo: None,
            customer_label: "Bill to".to_owned(),
            customer: Party {
                name: "Арендная компания «Север»".to_owned(),
                address: vec!["ул. Ленина, 1".to_owned(), "190000 Санкт-Петербург".to_owned()],
                vat_id: String::new(),
                contact: vec![],
            },
            delivery: None,
            lines: (0..lines)
                .map(|i| DocumentLine {
                    reference: format!("REF-{i}"),
                    description: format!(
                        "Bâche imprimée {i}, a description long enough to wrap over more than one line of the table"
                    ),
                    details: vec!["Material: vinyl".to_owned()],
                    quantity: Some(2),
                    unit_price: Some(Decimal::new(4550, 2)),
                    discount: String::new(),
                    vat_rate: Some(Decimal::from(20)),
                    total: Some(Decimal::new(9100, 2)),
                })
                .collect(),
            totals: Some(DocumentTotals {
                lines_total: Decimal::new(9100, 2),
                discount_percent: Decimal::ZERO,
                discount: Decimal::ZERO,
                shipping: Decimal::ZERO,
                subtotal: Decimal::new(9100, 2),
                vat: vec![VatAmount {
                    rate: Decimal::from(20),
                    base: Decimal::new(9100, 2),
                    amount: Decimal::new(1820, 2),
                }],
                vat_total: Decimal::new(1820, 2),
                total: Decimal::new(10920, 2),
                paid: None,
                balance_due: None,
            }),
            currency: "EUR".to_owned(),
            terms: vec!["Payment terms: 30 days".to_owned()],
            notes: vec![],
        }
    }

    #[test]
    fn a_long_document_flows_onto_more_pages() {
        let metrics = METRICS.as_ref().unwrap();
        assert!(render(&long_invoice(1)).unwrap().starts_with(b"%PDF-"));
        let mut layout = Layout {
            metrics,
            pages: vec![Vec::new()],
            y: MARGIN,
        };
        let model = long_invoice(80);
        header(&mut layout, &model, None);
        parties(&mut layout, &model);
        table(&mut layout, &model, true);
        assert!(layout.pages.len() >= 3, "{} pages", layout.pages.len());
        assert!(render(&model).unwrap().starts_with(b"%PDF-"));
    }

    #[test]
    fn text_wraps_at_spaces_within_the_width() {
        let metrics = METRICS.as_ref().unwrap();
        let lines = metrics.wrap("Société Générale — Арендная компания", 9.0, false, 80.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| metrics.width(l, 9.0, false) <= 80.0));
        assert_eq!(lines.join(" "), "Société Générale — Арендная компания");
    }
}
