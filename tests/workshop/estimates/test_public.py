"""The customer's page behind the signed link: the lines with VAT in their language, approve or decline
each, the order moves on and declined parts go back to the shelf; every link that no longer counts, and
every post that is not the customer's own, changes nothing."""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from ops.app import create_app
from ops.workshop.estimates.service import (
    EstimateAlreadyDecided,
    EstimateLink,
    EstimateLinks,
    decide_estimate,
)
from ops.workshop.models import Part, WorkOrderLine
from ops.workshop.service import assign_work_order, move_work_order
from tests.conftest import make_settings
from tests.factories import TenantFactory
from tests.web import csrf_from, sign_in
from tests.workshop.estimates.helpers import (
    SECRET,
    QuotedJob,
    events_of,
    history_of,
    quoted_job,
    reload,
    send,
    snapshot,
)
from tests.workshop.order_helpers import add_bay

HIDDEN = re.compile(r'<input type="hidden" name="(csrf_token|fingerprint)" value="([^"]+)"')


async def _open(client, token: str) -> tuple[int, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    response = await client.get(f"/estimate/{token}")
    html = await response.get_data(as_text=True)
    return response.status_code, html, dict(HIDDEN.findall(html))


async def _answer(client, token: str, choices: dict[int, str], fields: dict[str, str], **kwargs):  # type: ignore[no-untyped-def]
    form = {**fields, **{f"line-{line_id}": choice for line_id, choice in choices.items()}}
    return await client.post(f"/estimate/{token}", form=form, **kwargs)


def _all_of(job: QuotedJob, labour: str, part: str) -> dict[int, str]:
    return {job.labour.id: labour, job.part_line.id: part}


async def _line_states(db, tenant_id: int, job: QuotedJob) -> dict[int, tuple[str, bool, Decimal]]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        rows = await session.execute(
            select(
                WorkOrderLine.id,
                WorkOrderLine.approval,
                WorkOrderLine.decided_at,
                WorkOrderLine.reserved_quantity,
            ).where(WorkOrderLine.work_order_id == job.id)
        )
        return {row.id: (row.approval, row.decided_at is not None, row.reserved_quantity) for row in rows}


async def _part_levels(db, tenant_id: int, part_id: int) -> tuple[Decimal, Decimal]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return tuple(
            (await session.execute(select(Part.on_hand, Part.reserved).where(Part.id == part_id))).one()
        )  # type: ignore[return-value]


async def test_the_page_shows_the_dealership_the_vehicle_and_each_line_with_vat(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, language="en")
    token = await send(job)

    status, html, fields = await _open(client, token)

    assert status == 200
    assert shop.tenant.name in html
    assert "Skoda Octavia" in html
    # The number in a span that does not wrap: on a phone "WO-" and "000091" broke onto two lines.
    assert f'<h1>Estimate <span class="number">{job.work_order.code}</span></h1>' in html
    assert 'lang="en-CH"' in html
    assert "Replace front brake pads" in html and "CHF\xa0267.55" in html
    assert "Brake pad set" in html and "CHF\xa097.29" in html
    # One Approve / Decline choice per line, a plain form that works without JavaScript.
    for line in (job.labour, job.part_line):
        assert f'name="line-{line.id}" value="APPROVED" required' in html
        assert f'name="line-{line.id}" value="DECLINED" required' in html
    assert '<form method="post"' in html
    assert "If you approve everything" in html and "CHF\xa0364.84" in html
    assert set(fields) == {"csrf_token", "fingerprint"}


async def test_a_german_customer_reads_the_page_in_german(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, language="de")
    token = await send(job)

    # Whatever language the browser asks for: the page is the customer's.
    response = await client.get(f"/estimate/{token}", headers={"Accept-Language": "en"})

    html = await response.get_data(as_text=True)
    assert 'lang="de-CH"' in html
    assert "CHF\xa0267.55" in html
    # The part's unit in German words (stored as the code pc).
    assert "Teil: Menge 2 Stk" in html


async def test_the_totals_follow_the_choices(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)

    response = await client.get(
        f"/estimate/{token}?line-{job.labour.id}=APPROVED&line-{job.part_line.id}=DECLINED",
        headers={"HX-Request": "true", "HX-Target": "estimate-totals"},
    )

    fragment = await response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<dl id="estimate-totals"')
    assert "CHF\xa0247.50" in fragment  # without VAT
    assert "CHF\xa020.05" in fragment  # VAT 8.1 % of 247.50, rounded at the line
    assert "CHF\xa0267.55" in fragment  # the total of what is approved
    assert "<html" not in fragment


async def test_approving_some_and_declining_others_moves_the_order_on(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, language="en")
    token = await send(job)
    assert await _part_levels(runtime.db, shop.id, job.part.id) == (Decimal("10"), Decimal("2"))
    _status, _html, fields = await _open(client, token)

    response = await _answer(client, token, _all_of(job, "APPROVED", "DECLINED"), fields)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/estimate/{token}"
    states = await _line_states(runtime.db, shop.id, job)
    assert states[job.labour.id] == ("APPROVED", True, Decimal("0"))
    # The declined part goes back to the shelf: nothing of it is reserved any more.
    assert states[job.part_line.id] == ("DECLINED", True, Decimal("0"))
    assert await _part_levels(runtime.db, shop.id, job.part.id) == (Decimal("10"), Decimal("0"))
    stored = await reload(runtime.db, shop.id, job.id)
    assert stored.status == "IN_PROGRESS"
    assert stored.version > job.work_order.version
    assert (await history_of(runtime.db, shop.id, job.id))[-1] == (
        "WAITING_APPROVAL",
        "IN_PROGRESS",
        "Anna Muster",
    )
    [decided] = await events_of(runtime.db, shop.id, "work_order.estimate_decided")
    assert decided.topics == ["workshop", f"wo:{job.id}"]
    assert decided.payload["approved"] == [job.labour.id]
    assert decided.payload["declined"] == [job.part_line.id]
    assert decided.payload["to"] == "IN_PROGRESS"
    assert (decided.actor_kind, decided.actor_name) == ("customer", "Anna Muster")

    # Opening the link again shows the answer, not the form.
    _status, html, fields = await _open(client, token)
    assert "Thank you. Your answer has reached" in html
    assert "fingerprint" not in fields
    assert "CHF\xa0267.55" in html


async def test_a_second_answer_is_refused_and_changes_nothing(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)
    _status, _html, fields = await _open(client, token)
    await _answer(client, token, _all_of(job, "APPROVED", "APPROVED"), fields)
    before = await snapshot(runtime.db, shop.id, job)

    response = await _answer(client, token, _all_of(job, "DECLINED", "DECLINED"), fields)

    assert response.status_code == 409
    assert "This estimate was already answered." in (await response.get_data(as_text=True))
    assert await snapshot(runtime.db, shop.id, job) == before


async def test_every_line_needs_an_answer(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)
    _status, _html, fields = await _open(client, token)
    before = await snapshot(runtime.db, shop.id, job)

    response = await _answer(client, token, {job.labour.id: "APPROVED"}, fields)

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f'id="line-{job.part_line.id}-error"' in html
    assert f'id="line-{job.labour.id}-error"' not in html
    # What was chosen stays chosen.
    assert f'name="line-{job.labour.id}" value="APPROVED" required checked' in html
    assert await snapshot(runtime.db, shop.id, job) == before


async def test_an_expired_link_is_refused(client, factory, runtime, monkeypatch: pytest.MonkeyPatch):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    await send(job)
    stored = await reload(runtime.db, shop.id, job.id)
    assert stored.estimate_nonce
    link = EstimateLink(shop.id, job.id, stored.estimate_nonce)
    fifteen_days_ago = time.time() - 15 * 24 * 3600
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: fifteen_days_ago)
        old_token = EstimateLinks(SECRET).token_for(link)
    before = await snapshot(runtime.db, shop.id, job)

    status, html, _fields = await _open(client, old_token)
    answer = await client.post(
        f"/estimate/{old_token}", form={f"line-{job.labour.id}": "APPROVED", "csrf_token": csrf_from(html)}
    )

    assert status == 410
    assert "This estimate link has expired" in html
    assert answer.status_code == 410
    assert await snapshot(runtime.db, shop.id, job) == before


async def test_the_link_of_an_older_estimate_is_refused(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    old_token = await send(job)
    new_token = await send(job)
    _status, _html, fields = await _open(client, new_token)
    before = await snapshot(runtime.db, shop.id, job)

    status, html, _ = await _open(client, old_token)
    answer = await _answer(client, old_token, _all_of(job, "DECLINED", "DECLINED"), fields)

    assert status == 410
    assert "A newer estimate was sent" in html
    assert answer.status_code == 410
    assert await snapshot(runtime.db, shop.id, job) == before


async def test_a_link_resolves_only_inside_its_own_dealership(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    await send(job)
    stored = await reload(runtime.db, shop.id, job.id)
    other = await factory.tenant()
    # Even correctly signed, a link naming another dealership finds nothing of this one.
    crossed = EstimateLinks(SECRET).token_for(EstimateLink(other.id, job.id, stored.estimate_nonce or ""))
    before = await snapshot(runtime.db, shop.id, job)

    status, html, _ = await _open(client, crossed)

    assert status == 404
    assert shop.tenant.name not in html
    with pytest.raises(Exception) as refused:
        await decide_estimate(runtime.db, crossed, {}, links=EstimateLinks(SECRET))
    assert type(refused.value).__name__ == "EstimateLinkInvalid"
    assert await snapshot(runtime.db, shop.id, job) == before


@pytest.mark.parametrize(
    "token",
    [
        "garbled",
        "eyJ0IjoxLCJ3IjoxLCJuIjoieCJ9.ZZZZZZ.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x" * 2000,
    ],
)
async def test_a_garbled_link_is_not_found(client, token: str):
    status, html, _ = await _open(client, token)

    assert status == 404
    assert "This estimate link is not valid" in html


async def test_a_link_signed_with_another_key_is_not_found(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    await send(job)
    stored = await reload(runtime.db, shop.id, job.id)
    forged = EstimateLinks("another-secret").token_for(
        EstimateLink(shop.id, job.id, stored.estimate_nonce or "")
    )

    status, _html, _ = await _open(client, forged)

    assert status == 404


async def test_a_post_from_another_site_is_refused(client, factory, runtime, app):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)
    before = await snapshot(runtime.db, shop.id, job)
    choices = {f"line-{line}": "APPROVED" for line in (job.labour.id, job.part_line.id)}

    # Another site's form: the browser sends no session cookie (SameSite), so no token matches.
    stranger = app.test_client()
    cross_site = await stranger.post(
        f"/estimate/{token}", form=choices, headers={"Origin": "https://evil.example"}
    )
    # Even with this browser's own token, a post that another site made is refused by its origin.
    _status, _html, fields = await _open(client, token)
    with_origin = await _answer(
        client,
        token,
        _all_of(job, "APPROVED", "APPROVED"),
        fields,
        headers={"Origin": "https://evil.example"},
    )

    assert cross_site.status_code == 403
    assert with_origin.status_code == 403
    assert await snapshot(runtime.db, shop.id, job) == before
    same_site = await _answer(
        client, token, _all_of(job, "APPROVED", "APPROVED"), fields, headers={"Origin": "http://localhost"}
    )
    assert same_site.status_code == 303


async def test_an_answer_to_lines_that_changed_meanwhile_is_refused(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)
    _status, _html, fields = await _open(client, token)
    # The workshop corrects a price while the customer reads the page.
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrderLine).where(WorkOrderLine.id == job.labour.id).values(unit_price=Decimal("180"))
        )
        await uow.commit()
    before = await snapshot(runtime.db, shop.id, job)

    response = await _answer(client, token, _all_of(job, "APPROVED", "APPROVED"), fields)

    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    assert "The workshop changed the estimate while you were reading it" in html
    assert "CHF\xa0291.87" in html  # 1.5 h x 180 + VAT: the page shows the new price
    assert await snapshot(runtime.db, shop.id, job) == before


async def test_two_answers_at_once_exactly_one_is_taken(factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)
    links = EstimateLinks(SECRET)

    async def answer(choice: str) -> str:
        try:
            await decide_estimate(runtime.db, token, _all_of(job, choice, choice), links=links)
            return choice
        except EstimateAlreadyDecided:
            return "refused"

    results = await asyncio.gather(answer("APPROVED"), answer("DECLINED"))

    assert sorted(results) in (["APPROVED", "refused"], ["DECLINED", "refused"])
    winner = next(result for result in results if result != "refused")
    states = await _line_states(runtime.db, shop.id, job)
    assert {state[0] for state in states.values()} == {winner}
    assert len(await events_of(runtime.db, shop.id, "work_order.estimate_decided")) == 1
    expected_reserved = Decimal("2") if winner == "APPROVED" else Decimal("0")
    assert await _part_levels(runtime.db, shop.id, job.part.id) == (Decimal("10"), expected_reserved)


async def test_the_public_page_is_rate_limited(backend, tmp_path):
    application = create_app(make_settings(backend, tmp_path, public_requests_per_window=3))
    async with application.test_app():
        runtime = application.extensions["pitwall"]
        shop = await TenantFactory(runtime.db).tenant()
        job = await quoted_job(shop)
        token = await send(job)
        client = application.test_client()
        # An address of its own: on Redis the counts outlive the app.
        scope = {"client": (f"10.9.{job.id % 250}.{shop.id % 250}", 40000)}
        codes = [(await client.get(f"/estimate/{token}", scope_base=scope)).status_code for _ in range(4)]
        refused = await client.get(f"/estimate/{token}", scope_base=scope)

    assert codes == [200, 200, 200, 429]
    assert int(refused.headers["Retry-After"]) > 0


async def test_an_answer_is_taken_even_when_the_cars_bay_is_busy(client, factory, runtime):
    """The estimate went out at check-in and the car waits in the yard; meanwhile another job took its
    bay. The answer is recorded all the same, and the order waits for the workshop to move it: its
    history says why, and its advisor hears it at once."""
    shop = await factory.tenant()
    bay = await add_bay(shop)
    job = await quoted_job(shop, status="CHECKED_IN")
    async with shop.db.uow(shop.admin.actor) as uow:
        job.work_order = await assign_work_order(uow, job.id, None, bay.id, job.work_order.version)
    other = await shop.work_order(status="CHECKED_IN")
    async with shop.db.uow(shop.admin.actor) as uow:
        other = await assign_work_order(uow, other.id, None, bay.id, other.version)
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_work_order(
            uow, other.id, "IN_PROGRESS", (await reload(runtime.db, shop.id, other.id)).version
        )
    token = await send(job)
    _status, _html, fields = await _open(client, token)

    response = await _answer(client, token, _all_of(job, "APPROVED", "DECLINED"), fields)

    assert response.status_code == 303
    states = await _line_states(runtime.db, shop.id, job)
    assert (states[job.labour.id][0], states[job.part_line.id][0]) == ("APPROVED", "DECLINED")
    stored = await reload(runtime.db, shop.id, job.id)
    assert (stored.status, stored.occupied_bay_id) == ("WAITING_APPROVAL", None)
    [decided] = await events_of(runtime.db, shop.id, "work_order.estimate_decided")
    assert decided.payload["to"] == "WAITING_APPROVAL"
    advisor_id = shop.admin.actor.user_id  # who opened the order
    assert decided.topics == ["workshop", f"wo:{job.id}", f"user:{advisor_id}"]
    assert decided.payload["notice"].startswith("The customer answered the estimate for %(number)s, but")
    assert decided.payload["notice_values"] == {"number": job.work_order.code}
    assert (await history_of(runtime.db, shop.id, job.id))[-1] == (
        "WAITING_APPROVAL",
        "WAITING_APPROVAL",
        "Anna Muster",
    )
    _status, html, _fields = await _open(client, token)
    assert "Thank you. Your answer has reached" in html
    await sign_in(client, shop.admin.email)
    page = await (await client.get(f"/workshop/work-orders/{job.id}")).get_data(as_text=True)
    history = page[page.index('id="order-history"') :]
    # The admin reads German.
    assert "Der Kunde hat den Kostenvoranschlag beantwortet, aber der Arbeitsplatz ist" in history
    # The page watches its reader's notices.
    assert f"topic=user:{advisor_id}&amp;" in page


async def test_an_answer_that_moves_the_order_on_sends_no_notice(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await send(job)
    _status, _html, fields = await _open(client, token)

    await _answer(client, token, _all_of(job, "APPROVED", "APPROVED"), fields)

    [decided] = await events_of(runtime.db, shop.id, "work_order.estimate_decided")
    assert "notice" not in decided.payload
    assert decided.topics == ["workshop", f"wo:{job.id}"]


async def test_an_answer_is_taken_when_the_order_has_no_bay_and_it_waits_for_one(client, factory, runtime):
    """The estimate went out at check-in, before the job had a bay. Moving on to In progress would put
    the job in work on no bay; the answer is recorded, the order waits, and its advisor is told why."""
    shop = await factory.tenant()
    job = await quoted_job(shop, status="CHECKED_IN")
    token = await send(job)
    _status, _html, fields = await _open(client, token)

    response = await _answer(client, token, _all_of(job, "APPROVED", "APPROVED"), fields)

    assert response.status_code == 303
    states = await _line_states(runtime.db, shop.id, job)
    assert (states[job.labour.id][0], states[job.part_line.id][0]) == ("APPROVED", "APPROVED")
    stored = await reload(runtime.db, shop.id, job.id)
    assert (stored.status, stored.bay_id, stored.occupied_bay_id) == ("WAITING_APPROVAL", None, None)
    [decided] = await events_of(runtime.db, shop.id, "work_order.estimate_decided")
    assert decided.payload["to"] == "WAITING_APPROVAL"
    assert "but it has no bay" in decided.payload["notice"]
    moves = await events_of(runtime.db, shop.id, "work_order.moved")
    assert [move.payload["to"] for move in moves] == ["CHECKED_IN", "WAITING_APPROVAL"]
    await sign_in(client, shop.admin.email)
    page = await (await client.get(f"/workshop/work-orders/{job.id}")).get_data(as_text=True)
    history = page[page.index('id="order-history"') :]
    assert "aber der Auftrag hat keinen Arbeitsplatz" in history
