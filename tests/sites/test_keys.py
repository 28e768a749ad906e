"""The pure API key module: format, lookup prefix, HMAC digest."""

import re

import pytest

from sites import keys

PEPPER = "pepper-for-tests-0123456789abcdef"
OTHER_PEPPER = "another-pepper-0123456789abcdefgh"


def test_it_generates_a_key_with_its_prefix():
    key, prefix = keys.generate_key()
    assert re.fullmatch(r"hly_[A-Za-z0-9]{44}", key)
    assert key[4:16] == prefix
    assert len(prefix) == keys.PREFIX_LENGTH


def test_it_generates_different_keys():
    generated = {keys.generate_key()[0] for _ in range(200)}
    assert len(generated) == 200


def test_it_digests_with_hmac_sha256_as_64_hex_characters():
    key, _prefix = keys.generate_key()
    digest = keys.digest_key(key, PEPPER)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == keys.digest_key(key, PEPPER)
    assert key not in digest


def test_the_digest_depends_on_the_pepper():
    key, _prefix = keys.generate_key()
    assert keys.digest_key(key, PEPPER) != keys.digest_key(key, OTHER_PEPPER)


def test_it_splits_a_well_formed_key_into_its_prefix():
    key, prefix = keys.generate_key()
    assert keys.split_key(key) == prefix


@pytest.mark.parametrize(
    "presented",
    [
        None,
        "",
        " ",
        "random text",
        "hly_",
        "hly_short",
        "HLY_" + "a" * 44,
        "abc_" + "a" * 44,
        "hly_" + "a" * 43,
        "hly_" + "a" * 45,
        "hly_" + "a" * 43 + "-",
        "hly_" + "a" * 43 + "é",
        " hly_" + "a" * 44,
        "hly_" + "a" * 44 + "\n",
        "Bearer hly_" + "a" * 44,
        b"hly_" + b"a" * 44,
        12345,
        ["hly_" + "a" * 44],
    ],
)
def test_it_refuses_to_split_a_malformed_key(presented):
    assert keys.split_key(presented) is None


def test_it_matches_the_right_key_only():
    key, _prefix = keys.generate_key()
    stored = keys.digest_key(key, PEPPER)
    changed = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert keys.digests_match(key, PEPPER, stored)
    assert not keys.digests_match(changed, PEPPER, stored)
    assert not keys.digests_match(key, OTHER_PEPPER, stored)
