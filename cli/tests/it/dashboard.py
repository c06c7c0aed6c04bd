"""Drives the dashboard in headless Chromium (selenium + chromedriver).

Usage: dashboard.py URL CAMERA SCREENSHOT

Opens URL, waits for the camera CAMERA to be listed and for a scene_cut
event in the timeline; then, the camera recording, for its live <video>
to play (hls.js over Media Source Extensions: readyState >= 2 and
currentTime advancing within 15 s) and for the newest event's clip to
play in the viewer; saves a screenshot to SCREENSHOT (the live player
playing, before the clip), and exits 0; on a timeout it saves the
screenshot anyway, prints what it saw and exits 1.

Where this Chromium has no H.264 in Media Source Extensions (it prints
`mse-h264: False`), hls.js cannot play: it checks instead that the page
fetched the live playlist (`performance` entries) and says so.
"""

import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


def main():
    url, camera, screenshot = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.set_page_load_timeout(20)
            driver.get(url)
            wait = WebDriverWait(driver, 20, poll_frequency=0.2)
            try:
                wait.until(lambda d: d.find_elements(
                    By.CSS_SELECTOR, f'#cameras .camera[data-name="{camera}"]'))
                wait.until(lambda d: d.find_elements(
                    By.CSS_SELECTOR, f'#events .event[data-type="scene_cut"][data-source="{camera}"]'))
                video(driver, camera)
                driver.save_screenshot(screenshot)
                clip(driver, camera)
            except TimeoutException:
                driver.save_screenshot(screenshot)
                print("timed out; the page:", driver.find_element(By.TAG_NAME, "body").text)
                print("browser log:", driver.get_log("browser"))
                return 1
            return 0
        finally:
            driver.quit()


def video(driver, camera):
    """The camera's live player, and an event's clip in the viewer."""
    live = f'#cameras .camera[data-name="{camera}"] video.live'
    wait = WebDriverWait(driver, 15, poll_frequency=0.2)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, live))
    mse = driver.execute_script(
        "return MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.42E01E\"')")
    print("mse-h264:", mse)
    state = f"const v = document.querySelector('{live}'); return [v.readyState, v.currentTime];"
    if not mse:
        wait.until(lambda d: d.execute_script(
            "return performance.getEntriesByType('resource').some(e => e.name.includes('/live.m3u8'))"))
        print("no H.264 in MSE here: the live playlist was fetched, playback not checked")
        return
    ready, start = wait.until(lambda d: (lambda s: s if s[0] >= 2 else None)(
        d.execute_script(state)))
    deadline = time.monotonic() + 15
    while driver.execute_script(state)[1] < start + 1.0:
        if time.monotonic() > deadline:
            raise TimeoutException(f"the live video stalled at {start}")
        time.sleep(0.2)
    # hls.js' latency: behind the playlist's live edge; behind the camera:
    # now less the playing frame's producer time (#EXT-X-PROGRAM-DATE-TIME).
    edge, camera_lag = driver.execute_script(
        f"const h = document.querySelector('{live}').hls;"
        "return [h.latency, (Date.now() - h.playingDate.getTime()) / 1000]")
    print(f"live video plays: readyState {ready}, currentTime {start:.2f} -> "
          f"{driver.execute_script(state)[1]:.2f}, {edge:.2f} s behind the live edge, "
          f"{camera_lag:.2f} s behind the camera")


def clip(driver, camera):
    """The newest event's clip plays in the viewer."""
    if not driver.execute_script(
            "return MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.42E01E\"')"):
        return
    wait = WebDriverWait(driver, 15, poll_frequency=0.2)
    button = driver.find_element(By.CSS_SELECTOR, f'#events .event[data-source="{camera}"] button.clip')
    button.click()
    played = wait.until(lambda d: d.execute_script(
        "const v = document.querySelector('#viewer video');"
        "return v.readyState >= 2 && v.duration > 0 ? [v.readyState, v.duration] : null"))
    print(f"clip plays: readyState {played[0]}, duration {played[1]:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
