"""Notes and photos on a job: what is kept, what is refused and why, and who may see a photo."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from ops.auth.actor import NotFound, PermissionDenied, RuleViolation
from ops.events import Event
from ops.workshop.models import WorkOrderNote
from ops.workshop.technicians.service import MAX_PHOTO_BYTES, add_note, sniff_photo_type
from tests.web import sign_in
from tests.workshop.technicians.helpers import (
    GIF_START,
    HEIC_START,
    JPEG_START,
    WEBP_START,
    assigned_job,
    png,
)


async def _notes(shop) -> list[WorkOrderNote]:  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        return list((await session.scalars(select(WorkOrderNote).order_by(WorkOrderNote.id))).all())


def _upload(data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (JPEG_START + b"rest", "image/jpeg"),
        (png(), "image/png"),
        (WEBP_START + b"rest", "image/webp"),
        (HEIC_START + b"rest", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "image/heif"),
        (GIF_START, None),
        (b"%PDF-1.7", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00", None),
        (b"", None),
    ],
)
def test_a_photo_type_is_read_from_its_bytes(data, expected):
    assert sniff_photo_type(data) == expected


async def test_a_note_is_kept_with_its_author_and_announced_on_the_job(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    async with shop.db.uow(tech.actor) as uow:
        await add_note(uow, job.id, "  Rear pads down to 2 mm.  ")

    [note] = await _notes(shop)
    assert (note.body, note.author_id) == ("Rear pads down to 2 mm.", tech.actor.user_id)
    assert note.photo_type is None
    async with shop.db.read(shop.id) as session:
        [event] = (await session.scalars(select(Event).where(Event.type == "work_order.note_added"))).all()
    # `id` is the work order's, so the board's renderer refreshes that card.
    assert event.payload == {"id": job.id, "number": job.code, "note_id": note.id, "has_photo": False}
    assert event.topics == ["workshop", f"wo:{job.id}"]


async def test_the_stored_photo_type_is_what_the_bytes_are_not_what_the_phone_claimed(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    async with shop.db.uow(tech.actor) as uow:
        await add_note(uow, job.id, "", png(), "image/jpeg")

    [note] = await _notes(shop)
    assert note.photo_type == "image/png"


@pytest.mark.parametrize(
    ("body", "photo", "field", "message"),
    [
        ("   ", None, "body", "Write a note or add a photo."),
        ("", GIF_START, "photo", "This file (image/gif) is not a photo; use JPEG, PNG, WebP or HEIC."),
        ("x" * 4001, None, "body", "Use at most 4000 characters."),
        (
            "",
            JPEG_START + bytes(MAX_PHOTO_BYTES),
            "photo",
            "The photo is larger than 8 MB; take it at a lower resolution.",
        ),
    ],
)
async def test_a_note_without_content_or_with_a_bad_photo_is_refused(factory, body, photo, field, message):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await add_note(uow, job.id, body, photo, "image/gif" if photo == GIF_START else None)

    assert (refused.value.field, str(refused.value)) == (field, message)
    assert await _notes(shop) == []


async def test_a_photo_of_exactly_the_limit_is_kept(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    photo = JPEG_START + bytes(MAX_PHOTO_BYTES - len(JPEG_START))

    async with shop.db.uow(tech.actor) as uow:
        await add_note(uow, job.id, "", photo, "image/jpeg")

    assert len(await _notes(shop)) == 1


async def test_a_technician_writes_notes_only_on_their_own_jobs(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    other = await shop.user("technician")
    advisor = await shop.user("service_advisor")
    viewer = await shop.user("viewer")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    with pytest.raises(RuleViolation):
        async with shop.db.uow(other.actor) as uow:
            await add_note(uow, job.id, "Not my car")
    async with shop.db.uow(advisor.actor) as uow:
        await add_note(uow, job.id, "Customer called: wants the old pads back")
    with pytest.raises(PermissionDenied):
        async with shop.db.uow(viewer.actor) as uow:
            await add_note(uow, job.id, "Viewers only look")
    assert [note.body for note in await _notes(shop)] == ["Customer called: wants the old pads back"]


async def test_another_dealerships_job_takes_no_notes(factory):
    shop, other_shop = await factory.tenant(), await factory.tenant()
    tech = await shop.user("technician")
    foreign = await assigned_job(other_shop, None, status="IN_PROGRESS")

    with pytest.raises(NotFound):
        async with shop.db.uow(tech.actor) as uow:
            await add_note(uow, foreign.id, "Hello")


async def test_a_photo_uploaded_from_the_phone_is_served_back_to_staff_only(client, factory, app):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    token = await sign_in(client, tech.email)
    photo = png()

    response = await client.post(
        f"/workshop/my-jobs/{job.id}/notes",
        form={"body": "Cracked disc", "csrf_token": token},
        files={"photo": _upload(photo, "IMG_0001.JPG", "image/jpeg")},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200, await response.get_data(as_text=True)
    html = await response.get_data(as_text=True)
    [note] = await _notes(shop)
    assert "Cracked disc" in html and f"/workshop/notes/{note.id}/photo" in html
    served = await client.get(f"/workshop/notes/{note.id}/photo")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Cache-Control"].startswith("private")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert await served.get_data() == photo

    # Another dealership's staff get a 404, as for a photo that does not exist.
    other_shop = await factory.tenant()
    stranger = await other_shop.user("workshop_manager")
    other_client = app.test_client()
    await sign_in(other_client, stranger.email)
    assert (await other_client.get(f"/workshop/notes/{note.id}/photo")).status_code == 404
    assert (await client.get(f"/workshop/notes/{note.id + 1000}/photo")).status_code == 404


async def test_a_heic_photo_downloads_with_its_type(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    async with shop.db.uow(tech.actor) as uow:
        note = await add_note(uow, job.id, "", HEIC_START + b"rest", "image/heic")
    await sign_in(client, tech.email)

    served = await client.get(f"/workshop/notes/{note.id}/photo")

    assert served.headers["Content-Type"] == "image/heic"
    assert served.headers["Content-Disposition"] == f'attachment; filename="note-{note.id}.heic"'


async def test_a_refused_photo_is_answered_next_to_the_photo_field(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    token = await sign_in(client, tech.email)

    response = await client.post(
        f"/workshop/my-jobs/{job.id}/notes",
        form={"body": "", "csrf_token": token},
        files={"photo": _upload(GIF_START, "funny.gif", "image/gif")},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert (
        f'<p class="field-error" id="note-photo-{job.id}-error" role="alert">'
        "This file (image/gif) is not a photo; use JPEG, PNG, WebP or HEIC.</p>"
    ) in html
    assert f'aria-describedby="note-photo-{job.id}-error"' in html
    assert await _notes(shop) == []


async def test_an_upload_up_to_the_photo_limit_gets_through_and_a_larger_one_is_refused(client, factory):
    """The site-wide request limit (1 MB) would refuse every phone photo: the note route allows 8 MB."""
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    token = await sign_in(client, tech.email)

    def post(photo: bytes):  # type: ignore[no-untyped-def]
        return client.post(
            f"/workshop/my-jobs/{job.id}/notes",
            form={"body": "", "csrf_token": token},
            files={"photo": _upload(photo)},
            headers={"HX-Request": "true"},
        )

    kept = await post(JPEG_START + bytes(3 * 1024 * 1024))
    assert kept.status_code == 200
    over_the_photo_limit = await post(JPEG_START + bytes(MAX_PHOTO_BYTES))
    assert over_the_photo_limit.status_code == 422
    assert "The photo is larger than 8 MB" in await over_the_photo_limit.get_data(as_text=True)
    far_too_large = await post(JPEG_START + bytes(20 * 1024 * 1024))
    assert far_too_large.status_code == 413
    assert len(await _notes(shop)) == 1
    # Elsewhere the site-wide limit still holds.
    board = await client.post(
        f"/workshop/work-orders/{job.id}/move",
        form={"status": "QUALITY_CHECK", "version": str(job.version), "junk": "x" * (2 * 1024 * 1024)},
        headers={"X-CSRF-Token": token},
    )
    assert board.status_code == 413


async def test_a_note_with_a_photo_is_added_from_the_work_order_page(client, factory):
    """The advisor's page has its own note form: the note is kept and the page is shown again."""
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    advisor = await shop.user("service_advisor", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    token = await sign_in(client, advisor.email)
    photo = png() + b"\0" * (2 * 1024 * 1024)  # bigger than the site-wide 1 MB limit

    response = await client.post(
        f"/workshop/work-orders/{job.id}/notes",
        form={"body": "Customer mentions a rattle", "csrf_token": token},
        files={"photo": _upload(photo, "rattle.png", "image/png")},
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/workshop/work-orders/{job.id}")
    [note] = await _notes(shop)
    assert note.body == "Customer mentions a rattle" and note.author_id == advisor.actor.user_id
    page = await (await client.get(f"/workshop/work-orders/{job.id}")).get_data(as_text=True)
    assert "Customer mentions a rattle" in page and "Note added." in page

    refused = await client.post(
        f"/workshop/work-orders/{job.id}/notes",
        form={"body": "", "csrf_token": token},
        files={"photo": _upload(GIF_START, "funny.gif", "image/gif")},
    )
    assert refused.status_code == 303
    page = await (await client.get(f"/workshop/work-orders/{job.id}")).get_data(as_text=True)
    assert "is not a photo" in page
    assert len(await _notes(shop)) == 1
