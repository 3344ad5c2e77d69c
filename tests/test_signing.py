"""Statement link and pay tokens: stable, unforgeable, revocable, rotatable."""
from __future__ import annotations

from datetime import date

import pytest

from portal.core.errors import ConfigError
from portal.core.signing import BadToken, Signer, load_keys, statement_url

OLD, NEW = "old-key-0123456789abcdef", "new-key-0123456789abcdef"


def test_link_token_is_stable_across_builds():
    assert Signer([OLD]).link_token("C1", 1) == Signer([OLD]).link_token("C1", 1)


def test_link_token_reads_back_customer_and_version():
    s = Signer([OLD])
    assert s.read_link(s.link_token("C1", 3)) == ("C1", 3)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
    lambda t: "WyJDMiIsMV0" + t[t.index("."):],  # payload swapped for another customer's
    lambda t: t.split(".")[0],  # signature dropped
    lambda t: "",
    lambda t: "not-a-token",
])
def test_forged_or_tampered_link_is_refused(mangle):
    s = Signer([OLD])
    with pytest.raises(BadToken):
        s.read_link(mangle(s.link_token("C1", 1)))


def test_another_customers_token_names_that_customer_not_this_one():
    s = Signer([OLD])
    assert s.read_link(s.link_token("C2", 1))[0] == "C2"
    assert s.link_token("C1", 1) != s.link_token("C2", 1)


def test_raising_link_version_changes_the_token():
    s = Signer([OLD])
    assert s.link_token("C1", 1) != s.link_token("C1", 2)
    assert s.read_link(s.link_token("C1", 1)) == ("C1", 1)  # verifies, but names the revoked version


def test_key_from_another_deployment_is_refused():
    with pytest.raises(BadToken):
        Signer([NEW]).read_link(Signer([OLD]).link_token("C1", 1))


def test_rotated_key_signs_new_links_and_still_accepts_old_ones():
    old_link = Signer([OLD]).link_token("C1", 1)
    rotated = Signer([NEW, OLD])  # PORTAL_SECRET_KEY="new,old"
    assert rotated.read_link(old_link) == ("C1", 1)
    assert rotated.link_token("C1", 1) == Signer([NEW]).link_token("C1", 1) != old_link
    with pytest.raises(BadToken):  # once the old key is dropped, old links die
        Signer([NEW]).read_link(old_link)


def test_link_and_pay_tokens_are_not_interchangeable():
    s = Signer([OLD])
    with pytest.raises(BadToken):
        s.read_pay(s.link_token("C1", 1), date(2026, 11, 25), 30)
    with pytest.raises(BadToken):
        s.read_link(s.pay_token("C1", 1, date(2026, 11, 25)))


def test_pay_token_expires():
    s = Signer([OLD])
    t = s.pay_token("C1", 1, date(2026, 11, 1))
    assert s.read_pay(t, date(2026, 11, 30), 30) == ("C1", 1, date(2026, 11, 1))
    with pytest.raises(BadToken, match="expired"):
        s.read_pay(t, date(2026, 12, 2), 30)


def test_keys_come_from_the_environment_newest_first(tmp_path):
    assert load_keys(tmp_path, {"PORTAL_SECRET_KEY": f" {NEW} ,{OLD}"}) == [NEW, OLD]


def test_short_keys_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="at least 16"):
        load_keys(tmp_path, {"PORTAL_SECRET_KEY": "short"})


def test_without_a_key_the_demo_makes_one_once_and_warns(tmp_path, caplog):
    first = load_keys(tmp_path / "state", {})
    assert load_keys(tmp_path / "state", {}) == first and len(first[0]) >= 32
    assert (tmp_path / "state" / "demo-secret-key").stat().st_mode & 0o077 == 0
    assert "PORTAL_SECRET_KEY is not set" in caplog.text


def test_statement_url():
    assert statement_url("https://pay.example/", "T.k") == "https://pay.example/s/T.k/"


def test_tokens_match_plain_itsdangerous_and_compressed_ones_still_verify():
    from itsdangerous import URLSafeSerializer

    from portal.core.signing import LINK_SALT
    plain = URLSafeSerializer([OLD], salt=LINK_SALT)
    assert Signer([OLD]).link_token("C1", 1) == plain.dumps(["C1", 1])
    long_id = "A" * 120  # itsdangerous would compress this one
    assert plain.dumps([long_id, 1]).startswith(".")
    assert Signer([OLD]).read_link(plain.dumps([long_id, 1])) == (long_id, 1)


def test_compact_json_is_what_itsdangerous_writes():
    import random

    from itsdangerous._json import _CompactJSON

    from portal.core.signing import compact_json
    rng = random.Random(5)
    pieces = ["C1", "", "é", 'a"b', "a\\b", "tab\there", "\x00", "\x7f", "\u2028", "😀", 0, -7, 10**20, True,
              None, 1.5, ["x"], {"k": 1}]
    for _ in range(3000):
        obj = [rng.choice(pieces) for _ in range(rng.randint(0, 4))]
        assert compact_json(obj) == _CompactJSON.dumps(obj)
    for obj in ({"a": [1, "b"]}, "text", 3, ("C1", 1)):
        assert compact_json(obj) == _CompactJSON.dumps(obj)


def test_tokens_are_exactly_what_itsdangerous_makes_with_the_key_derived_once():
    import random
    from datetime import timedelta

    from itsdangerous import URLSafeSerializer
    from itsdangerous.encoding import base64_encode

    from portal.core.signing import LINK_SALT, PAY_SALT

    class Plain(URLSafeSerializer):  # itsdangerous' own: its JSON (never compressed), a signer and a key per token
        def dumps(self, obj, salt=None):
            return URLSafeSerializer.dumps(self, obj, salt)

        def dump_payload(self, obj):
            return base64_encode(self.serializer.dumps(obj).encode("utf-8"))

    keys = ["old-key-0123456789abcdef", "new-key-0123456789abcdef"]
    fast = Signer(keys)
    # What Signer's tokens hold, signed by itsdangerous itself (Signer's own fields are not replaced:
    # compiled, portal/native.py, they take only its own serializer)
    links, pay = Plain(keys[::-1], salt=LINK_SALT), Plain(keys[::-1], salt=PAY_SALT)
    rng = random.Random(3)
    for _ in range(2000):
        cid = "".join(rng.choice("AZaz09-_é\"'<>&\\\n\x01\x7f\u2028 ") for _ in range(rng.randint(1, 12)))
        version, day = rng.randint(1, 10**6), date(2026, 1, 1) + timedelta(days=rng.randint(0, 3000))
        assert fast.link_token(cid, version) == links.dumps([cid, version])
        assert fast.pay_token(cid, version, day) == pay.dumps([cid, version, day.isoformat()])
        assert Signer(keys[:1]).read_link(fast.link_token(cid, version)) == (cid, version)  # the first signs
