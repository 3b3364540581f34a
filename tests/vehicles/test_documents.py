"""Documents on a vehicle: PDFs and photos up to 10 MB, read by their bytes, downloaded under their
name by whoever may see the vehicle, and nobody else."""

from __future__ import annotations

import re
from io import BytesIO

from quart.datastructures import FileStorage

from tests.vehicles import helpers

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(data: bytes, name: str, content_type: str = "application/pdf") -> dict[str, FileStorage]:
    return {"document": FileStorage(BytesIO(data), filename=name, content_type=content_type)}


async def test_a_pdf_is_uploaded_listed_downloaded_and_removed(client, factory, settings):
    """The registration papers scanned at the counter must be there the next time the car comes in."""
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    response = await client.post(
        f"/vehicles/{car.id}/documents",
        form={"csrf_token": token},
        files=_upload(PDF, "../Fahrzeugausweis.pdf"),
    )
    assert response.status_code == 302
    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)
    assert "Fahrzeugausweis.pdf" in page
    document_id = int(re.search(rf'href="/vehicles/{car.id}/documents/(\d+)"', page).group(1))  # type: ignore[union-attr]
    download = await client.get(f"/vehicles/{car.id}/documents/{document_id}")
    assert download.status_code == 200 and await download.get_data() == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert 'filename="Fahrzeugausweis.pdf"' in download.headers["Content-Disposition"]
    stored = list((settings.data_dir / "vehicle-documents").rglob("*"))
    assert any(path.is_file() for path in stored)

    removed = await client.post(
        f"/vehicles/{car.id}/documents/{document_id}/delete", form={"csrf_token": token}
    )
    assert removed.status_code == 302
    assert (await client.get(f"/vehicles/{car.id}/documents/{document_id}")).status_code == 404
    assert not any(path.is_file() for path in (settings.data_dir / "vehicle-documents").rglob("*"))


async def test_a_file_that_is_neither_pdf_nor_photo_is_refused_whatever_it_claims(client, factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    response = await client.post(
        f"/vehicles/{car.id}/documents",
        form={"csrf_token": token},
        files=_upload(b"MZ\x90\x00 not a pdf", "invoice.pdf"),
    )
    assert response.status_code == 422
    assert "Upload a PDF or a photo" in await response.get_data(as_text=True)


async def test_a_file_over_the_limit_is_refused(client, factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    big = PDF + b"0" * (10 * 1024 * 1024)
    response = await client.post(
        f"/vehicles/{car.id}/documents", form={"csrf_token": token}, files=_upload(big, "big.pdf")
    )
    assert response.status_code in (413, 422)


async def test_another_dealerships_document_is_not_found(client, factory):
    shop = await factory.tenant()
    other = await factory.tenant()
    theirs = await helpers.vehicle(other)
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    response = await client.post(
        f"/vehicles/{theirs.id}/documents", form={"csrf_token": token}, files=_upload(PDF, "x.pdf")
    )
    assert response.status_code == 404
    assert (await client.get(f"/vehicles/{theirs.id}/documents/1")).status_code == 404
