"""The internal pages' static files: served by name from their folder, nothing else."""

from __future__ import annotations


async def test_a_static_file_of_the_pages_is_served_with_its_media_type(anonymous):
    response = await anonymous.get("/pages/internal.css")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert "--failed" in await response.text()


async def test_a_name_outside_the_folder_or_of_an_unknown_kind_is_a_json_404(anonymous):
    for name in ("..%2Fviews.py", "missing.css", "internal.CSS", "assets.py", ".css"):
        response = await anonymous.get(f"/pages/{name}")
        assert response.status == 404, name
        assert (await response.json())["detail"] == "Not found."
