import pytest
from pydantic import ValidationError

from server.grants import hash_token, new_token
from server.registration import RegistrationIn, access_url

GOOD = {"name": "Salma", "email": "S@Example.org", "country": "ma", "language": "ar",
        "consent": True}


def test_a_good_registration_is_normalised() -> None:
    r = RegistrationIn.model_validate(GOOD)
    assert r.country == "MA"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": False}, "consent"),
        ({"email": "not-an-email"}, "email"),
        ({"country": "XX"}, "country"),
        ({"language": "de"}, "language"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"admin": True}, "admin"),
        ({"consent": "yes"}, "consent"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        RegistrationIn.model_validate({**GOOD, **change})
    assert field in {str(e["loc"][0]) for e in err.value.errors()}


def test_tokens_are_unguessable_and_stored_hashed() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token = next(iter(tokens))
    assert len(token) >= 32  # 24 random bytes → 192 bits
    assert hash_token(token) != token and len(hash_token(token)) == 64


def test_access_url_keeps_the_token_in_the_fragment() -> None:
    url = access_url("https://e.example", "tok", "panel-climate")
    assert url == "https://e.example/join#token=tok&session=panel-climate"


def test_a_token_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`halqa revoke <token>` would read a leading '-' as an option (a CI run
    drew one: "the following arguments are required: token")."""
    import secrets

    drawn = iter(["-starts-like-an-option", "plain-token"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(drawn))
    assert new_token() == "plain-token"
