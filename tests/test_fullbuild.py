"""The parallel full build: each worker parses only its customers' rows, and the result is the same."""
from __future__ import annotations

import zlib

import pytest

from portal.model import InputError

CUSTOMERS = "customer_id,name,email,currency,terms_days\n" + "".join(
    f"K{i},Cust {i},k{i}@x.example,USD,30\n" for i in range(40)) + "K99,Bad Email,not-an-email,USD,30\n"


def shard(cid: str) -> int:
    return zlib.crc32(cid.encode()) % 2


def problems(project, workers: int) -> list[str]:
    with pytest.raises(InputError) as e:
        project.build(full_build=True, workers=workers)
    return [str(p) for p in e.value.problems]


def test_each_problem_is_reported_once_whichever_worker_reads_the_row(project):
    ours = [f"K{i}" for i in range(40)]
    assert {shard(c) for c in ours} == {0, 1}  # the rows below land in both workers
    rows = ["date,customer_id,type,ref,amount,currency,due_date,applies_to,memo"]
    for i, cid in enumerate(ours):
        rows.append(f"2026-10-0{1 + i % 9},{cid},invoice,I{i},{100 + i}.50,,,,")
    rows += ["2026-10-01,NOBODY,invoice,X1,10.00,,,,",  # unknown customer
             "2026-10-01,K99,payment,X2,10.00,,,,",  # a customer whose own row is bad
             "2026-10-01,K3,payment,X3,ten,,,,",  # bad amount, one worker's customer
             "2026-10-01,K4,payment,X4,-5.00,,,,",  # and the other's
             "2026-10-01,K5,invoice,X5,(1.234),,,,",
             "2026-10-01",  # too few fields: no customer
             "", ",,,,,,,,",  # blank rows say nothing
             "2026-10-01,K6,invoice,X6,\"1,5.00\",,,,",
             "2026-13-01,K7,invoice,X7,1.00,,,,"]
    project.write("customers.csv", CUSTOMERS)
    project.write("e.csv", "\n".join(rows) + "\n")
    one, two = problems(project, 1), problems(project, 2)
    assert shard("K3") != shard("K4")
    assert one == two
    assert [p.split(": ")[0].removeprefix("content/ledger/") for p in two] == [
        "customers.csv:42", "e.csv:42", "e.csv:43", "e.csv:44", "e.csv:45", "e.csv:46",
        "e.csv:47", "e.csv:47", "e.csv:47", "e.csv:50", "e.csv:51"]
    assert "e.csv:42: unknown customer 'NOBODY'" in two[1]


def test_online_payments_keep_their_latest_state_in_a_parallel_build(project):
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n" + "".join(
        f"2026-10-01,K{i},invoice,I{i},100.00,,,,\n" for i in range(40)))
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))
    project.write("online-payments.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo,status,key
        2026-11-01,K1,payment,pi_1,60.00,USD,,I1,,processing,pi_1:processing
        2026-11-01,K4,payment,pi_4,70.00,USD,,I4,,processing,pi_4:processing
        2026-11-02,K1,payment,pi_1,60.00,USD,,I1,,succeeded,pi_1:succeeded
        2026-11-03,K4,payment,pi_4,70.00,USD,,I4,,failed,pi_4:failed
        """)
    assert shard("K1") != shard("K4")
    project.build(full_build=True, workers=2)
    k1, k4 = project.page_for("K1"), project.page_for("K4")
    assert "$40.00" in k1 and "processing" not in k1.split('<section class="contact"')[0]
    assert "$100.00" in k4 and "pi_4" not in k4  # the bounced bank payment is gone
