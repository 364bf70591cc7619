#!/usr/bin/env python3
"""A headless Chromium uploads a real video through the upload page (the form, no API call), follows the redirect
to the result page, waits while it refreshes, and checks the rendered verdict against the API's record; then it
saves a screenshot (SCREENSHOT, default /tmp/forensight-serve-result.png).

    bash scripts/serve/browser_test.sh BINARY VIDEO [SCREENSHOT]   # installs Chromium, chromedriver, selenium if missing

docs/serve-result.png comes from a synthetic clip without faces:
    ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=25 -t 10 -pix_fmt yuv420p testsrc.mp4

Selenium drives Debian's chromium and chromium-driver."""
import json, os, sys, tempfile, time, urllib.request

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(__file__))
from kill_test import get, start  # noqa: E402


def main():
    binary, video = sys.argv[1], os.path.abspath(sys.argv[2])
    # Default outside the repository: a screenshot of a dataset clip shows research-only faces that must not be
    # committed (../shared/datasets/README.md). docs/serve-result.png was made from a synthetic clip.
    screenshot = sys.argv[3] if len(sys.argv) > 3 else os.path.join(tempfile.gettempdir(), "forensight-serve-result.png")
    port = 18484
    folder = tempfile.mkdtemp(prefix="forensight-browser-")
    server = start(binary, os.path.join(folder, "data"), port, open(os.path.join(folder, "server.log"), "ab"))
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,1500"]:
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
    failures = []
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        driver.find_element(By.ID, "file").send_keys(video)
        driver.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
        WebDriverWait(driver, 30).until(seen.url_contains("/analyses/"))
        id = driver.current_url.rstrip("/").rsplit("/", 1)[-1]
        # The page refreshes itself every 2 s until the verdict is there.
        WebDriverWait(driver, 900, poll_frequency=1).until(seen.presence_of_element_located((By.ID, "verdict")))
        verdict = driver.find_element(By.ID, "verdict").text
        record = get(port, f"/api/v1/analyses/{id}")
        result = record["result"]
        if verdict != result["verdict"]:
            failures.append(f"page says {verdict}, the record {result['verdict']}")
        if result.get("probability") is not None:
            shown = driver.find_element(By.ID, "pfake").text
            if shown != f"{result['probability']:.3f}":
                failures.append(f"page shows P(fake) {shown}, the record {result['probability']}")
        rows = driver.find_elements(By.CSS_SELECTOR, "tr.face-row")
        if len(rows) != len(result["faces"]):
            failures.append(f"{len(rows)} face rows for {len(result['faces'])} faces")
        broken = driver.execute_script("return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        if broken:
            failures.append(f"images that did not load: {broken}")
        driver.save_screenshot(screenshot)
        print(json.dumps({"id": id, "verdict": verdict, "probability": result.get("probability"), "faces": len(rows),
                          "images": driver.execute_script("return document.images.length"), "screenshot": screenshot,
                          "failures": failures}))
    finally:
        driver.quit()
        server.terminate()
        server.wait()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
