from tests.support import Halqa


async def test_program_has_nine_sessions_over_two_days(live_app: Halqa) -> None:
    program = await live_app.program()
    assert len(program["sessions"]) == 9
    assert len(program["event"]["days"]) == 2
