"""The portal command: exit codes and what it prints."""
from __future__ import annotations

from portal.cli import main


def test_build_prints_a_summary(project, capsys):
    project.write("e.csv", "date,customer_id,type,ref,amount\n2026-10-01,C1,invoice,INV-1,12.50\n")
    assert main(["--root", str(project.root), "build", "--as-of", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "2 customers · 2 pages written" in out and "receivables USD: $12.50 (overdue $12.50)" in out


def test_build_with_bad_input_exits_1_listing_every_problem(project, capsys):
    project.write("e.csv", "date,customer_id,type,ref,amount\nyesterday,C1,invoice,INV-1,12.50\n"
                           "2026-10-01,C7,invoice,INV-2,1\n")
    assert main(["--root", str(project.root), "build"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "content/ledger/e.csv:2: date 'yesterday' is not a date (expected %Y-%m-%d)",
        "content/ledger/e.csv:3: unknown customer 'C7' (expected a customer_id from customers.csv)",
        "2 problems found; nothing was written.",
    ]
    assert not project.settings().out.exists()


def test_link_prints_the_customers_url(project, capsys):
    from portal.core.signing import Signer
    assert main(["--root", str(project.root), "link", "C2"]) == 0
    url = capsys.readouterr().out.strip()
    assert url == "https://pay.acme.example/s/" + Signer(["test-key-0123456789abcdef"]).link_token("C2", 1) + "/"


def test_link_for_unknown_customer_fails(project, capsys):
    assert main(["--root", str(project.root), "link", "NOPE"]) == 1
    assert "no customer 'NOPE'" in capsys.readouterr().err


def test_check_writes_nothing(project, capsys):
    project.write("e.csv", "date,customer_id,type,ref,amount\n2026-10-01,C1,invoice,INV-1,12.50\n")
    assert main(["--root", str(project.root), "check"]) == 0
    assert "ledger OK: 2 customers" in capsys.readouterr().out
    assert not project.settings().out.exists() and not (project.root / "staff").exists()


def test_bad_as_of_is_a_usage_error(project, capsys):
    import pytest
    with pytest.raises(SystemExit) as e:
        main(["--root", str(project.root), "build", "--as-of", "soon"])
    assert e.value.code == 2 and "'soon' is not a date" in capsys.readouterr().err


def test_stripe_commands_without_a_key_say_what_to_set(project, monkeypatch, capsys):
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    for command in (["sync"], ["reconcile"]):
        assert main(["--root", str(project.root), *command]) == 2
        assert "error: set STRIPE_SECRET_KEY" in capsys.readouterr().err
    assert not (project.root / "staff").exists()


def test_every_error_the_portal_can_explain_is_said_in_words_with_its_exit_code(project, monkeypatch, capsys):
    from portal.cli import main
    monkeypatch.setenv("PORTAL_SECRET_KEY", "short")
    assert main(["--root", str(project.root), "build"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: PORTAL_SECRET_KEY: every key must be at least 16 characters")
    assert "Traceback" not in err
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-key-0123456789abcdef")
    import shutil

    from conftest import REPO
    shutil.copytree(REPO / "content" / "reminders", project.root / "content" / "reminders")
    assert main(["--root", str(project.root), "remind"]) == 2  # no build yet: a stale state
    assert "run `portal build`" in capsys.readouterr().err


def test_the_errors_are_one_family():
    from portal.build.lookup import NotBuilt, Unreadable
    from portal.core.errors import ConfigError, PortalError, StaleState
    from portal.core.records import InputError
    from portal.core.signing import BadToken
    from portal.pay.charge import Refused
    from portal.pay.gateway import GatewayError, SignatureError
    for e in (ConfigError, StaleState, InputError, NotBuilt, Unreadable, BadToken, Refused, GatewayError,
              SignatureError):
        assert issubclass(e, PortalError)
    assert InputError([]).exit_code == 1 and ConfigError().exit_code == 2


def test_the_command_exits_with_its_status_and_all_its_output_through_a_pipe(project):
    """`portal` leaves without tearing its heap down (cli.entry): what it printed still arrives whole."""
    import subprocess
    import sys
    project.write("customers.csv", "customer_id,name,email,currency\nC1,First,a@x.example,USD\n")
    project.write("ledger.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                                "2026-11-01,C1,invoice,I-1,10.00,,2026-12-01,,\n")
    run = [sys.executable, "-m", "portal", "--root", str(project.root), "build", "--as-of", "2026-11-25"]
    ok = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith("links.csv") and "1 customers" in ok.stdout
    project.write("ledger.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                                "2026-11-01,C1,invoice,I-1,ten,,2026-12-01,,\n")
    bad = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "content/ledger/ledger.csv:2" in bad.stdout + bad.stderr
