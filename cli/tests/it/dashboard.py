"""Drives the dashboard in headless Chromium (selenium + chromedriver).

Usage: dashboard.py URL CAMERA SCREENSHOT

Opens URL, waits for the camera CAMERA to be listed and for a scene_cut
event in the timeline, saves a screenshot to SCREENSHOT, and exits 0; on
a timeout it saves the screenshot anyway, prints what it saw and exits 1.
"""

import sys
import tempfile

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
            except TimeoutException:
                driver.save_screenshot(screenshot)
                print("timed out; the page:", driver.find_element(By.TAG_NAME, "body").text)
                print("browser log:", driver.get_log("browser"))
                return 1
            driver.save_screenshot(screenshot)
            return 0
        finally:
            driver.quit()


if __name__ == "__main__":
    sys.exit(main())
