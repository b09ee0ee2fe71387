//! `review`: rate the other party of one of our ended agreements (the review
//! embeds its receipt), and read the reviews and the summary this node holds
//! of someone. People and agreements are named by short forms (`resolve`).

use super::args::{ClientArgs, PageArgs, ReviewCommand};
use super::pages::{Paged, Search, command_words};
use super::text::{Block, name_of, print_as, short_id};
use super::{client, resolve};
use crate::api::json::{ReviewInput, ReviewJson, ReviewPage, ReviewSummaryJson};
use crate::data_dir::DataDir;

impl Paged for ReviewPage {
    type Entry = ReviewJson;
    const WHAT: &'static str = "reviews";
    fn split(self) -> (Vec<ReviewJson>, Option<String>) {
        (self.reviews, self.next)
    }
    fn whole(reviews: Vec<ReviewJson>) -> Self {
        ReviewPage {
            reviews,
            next: None,
        }
    }
}

/// Runs a `review` subcommand.
pub(super) fn run(
    dir: &DataDir,
    given_dir: Option<&std::path::Path>,
    command: ReviewCommand,
) -> anyhow::Result<()> {
    match command {
        ReviewCommand::Add {
            agreement,
            rating,
            text,
            client,
        } => add(dir, &agreement, rating, text, &client),
        ReviewCommand::List {
            subject,
            author,
            page,
            client,
        } => list(dir, given_dir, subject, author, &page, &client),
        ReviewCommand::Summary { person, client } => summary(dir, person.as_deref(), &client),
    }
}

/// `review add`.
fn add(
    dir: &DataDir,
    short: &str,
    rating: u8,
    text: String,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let agreement = resolve::agreement(&c, short)?;
    let review: ReviewJson = c.post(
        "/reviews",
        &ReviewInput {
            agreement,
            rating,
            text,
        },
    )?;
    print_as(args.json, &review, |r| {
        println!(
            "reviewed {} on {}: {}",
            short_id(&r.subject),
            short_id(&r.agreement),
            review_text(r)
        );
    });
    Ok(())
}

/// `review list`.
fn list(
    dir: &DataDir,
    given_dir: Option<&std::path::Path>,
    subject: Option<String>,
    author: Option<String>,
    page: &PageArgs,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    if subject.is_none() && author.is_none() {
        anyhow::bail!("give --subject, --author or both: whose reviews?");
    }
    let subject = subject.map(|s| resolve::person(&c, &s)).transpose()?;
    let author = author.map(|a| resolve::person(&c, &a)).transpose()?;
    let command = command_words(given_dir, &["review", "list"]);
    Search::<ReviewPage>::new("/reviews", command, review_line)
        .flags(&[
            ("subject", "subject", &subject),
            ("author", "author", &author),
        ])
        .run(&c, page, args.json)
}

/// `review summary`.
fn summary(dir: &DataDir, person: Option<&str>, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let party = resolve::person(&c, person.unwrap_or("me"))?;
    let summary: ReviewSummaryJson = c.get_with("/reviews/summary", &[("subject", &party)])?;
    print_as(args.json, &summary, print_summary);
    Ok(())
}

/// `★★★★☆ 4/5 "text"`.
fn review_text(r: &ReviewJson) -> String {
    let stars: String = (1..=5)
        .map(|n| if n <= r.rating { '★' } else { '☆' })
        .collect();
    if r.text.is_empty() {
        format!("{stars} {}/5", r.rating)
    } else {
        format!("{stars} {}/5 {:?}", r.rating, r.text)
    }
}

/// One review as a line: when, who of whom, the rating and the text.
fn review_line(r: &ReviewJson) -> String {
    format!(
        "{}  {} of {} ({} {})  {}",
        r.created_at.get(..10).unwrap_or(&r.created_at),
        short_id(&r.author),
        short_id(&r.subject),
        name_of(&r.receipt.outcome),
        short_id(&r.agreement),
        review_text(r)
    )
}

fn print_summary(s: &ReviewSummaryJson) {
    let r = &s.receipts;
    let reviews = match s.mean_rating {
        Some(mean) => format!("{} (mean {mean:.1} of 5)", s.reviews),
        None => "none".to_owned(),
    };
    Block::default()
        .row("person", s.subject.clone())
        .row(
            "receipts",
            format!(
                "{} completed, {} cancelled, {} resolved",
                r.completed, r.cancelled, r.resolved
            ),
        )
        .row("on time", format!("{} of {} returns", s.on_time, s.returns))
        .row("reviews", reviews)
        .print();
}
