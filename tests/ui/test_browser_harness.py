"""The harness must be able to fail: a page that logs an error and requests an outside host is caught."""


def test_console_and_request_recording_really_record(logged_page, tmp_path):
    page, log = logged_page
    html = tmp_path / "noisy.html"
    html.write_text(
        "<html><body><p id='x'>hi</p><script>console.error('boom'); console.log('fine');"
        "fetch('http://example.invalid/x').catch(() => {});</script></body></html>"
    )
    with page.expect_request(lambda request: "example.invalid" in request.url):
        page.goto(html.as_uri())
    page.wait_for_function("() => document.getElementById('x') !== null")
    assert "boom" in " ".join(log.errors())
    assert ("log", "fine") in log.console
    assert any("example.invalid" in url for url in log.external_requests())
