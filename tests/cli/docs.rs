//! What a person reads before anything else: `--help`, the examples in each
//! subcommand's long help, shell completions and man pages.

use clap::CommandFactory;
use swapmesh_node::cli::Cli;

use crate::kit::{fails, ok};

/// Every subcommand, as the words that run it (`["listing", "add"]`), and
/// whether it is a group of subcommands.
fn subcommands() -> Vec<(Vec<String>, bool)> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<(Vec<String>, bool)>) {
        for sub in cmd.get_subcommands() {
            let mut words = prefix.to_vec();
            words.push(sub.get_name().to_owned());
            out.push((words.clone(), sub.has_subcommands()));
            walk(sub, &words, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn help_says_what_swapmesh_is_and_every_subcommand_has_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    let help = ok(tmp.path(), &["--help"]);
    let first = help.lines().next().unwrap_or_default();
    assert!(first.contains("neighbours"), "{help}");
    assert!(!help.contains("wiring"), "{help}");
    for (words, is_group) in subcommands() {
        if is_group {
            continue;
        }
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let help = ok(tmp.path(), &args);
        assert!(
            help.contains("Example") && help.contains("swapmesh "),
            "`swapmesh {}` has no example: {help}",
            words.join(" ")
        );
    }
}

#[test]
fn completions_generate_for_every_shell() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = ok(tmp.path(), &["completions", shell]);
        assert!(script.contains("swapmesh"), "{shell}");
        for word in ["browse", "listing", "completions", "price", "cursor"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let err = fails(tmp.path(), &["completions", "tcsh"]);
    assert!(err.contains("tcsh"), "{err}");
}

#[test]
fn man_page_names_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let man = tmp.path().join("man1");
    ok(tmp.path(), &["man", man.to_str().unwrap()]);
    let main = std::fs::read_to_string(man.join("swapmesh.1")).expect("swapmesh.1");
    assert!(main.contains("neighbours"), "{main}");
    for (words, _) in subcommands() {
        if words.len() == 1 {
            // roff writes a hyphen as `\-`.
            assert!(
                main.contains(&words[0].replace('-', "\\-")),
                "swapmesh.1 does not name {}",
                words[0]
            );
        }
        let page = man.join(format!("swapmesh-{}.1", words.join("-")));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|_| panic!("no man page {}", page.display()));
        assert!(text.contains(words.last().unwrap()), "{}", page.display());
    }
}

#[test]
fn a_mistyped_command_line_is_one_line_naming_the_mistake() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, named) in [
        (
            &[
                "listing", "add", "--title", "x", "--kind", "rent", "--colour", "red",
            ][..],
            "--colour",
        ),
        (
            &["listing", "add", "--title", "x", "--kind", "gift"][..],
            "gift",
        ),
        (&["listing", "add", "--title", "x"][..], "--kind"),
        (&["browse", "--limit", "many"][..], "many"),
    ] {
        let err = fails(tmp.path(), args);
        assert!(err.contains(named), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
    }
}
