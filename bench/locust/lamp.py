"""The lamp of the MQTT notes as a Locust user over paho-mqtt, flat out: the peer of lamp-flat-out.

Each task publishes a burst of 10 QoS 1 messages and waits up to 0.5 s for each PUBACK, reporting
every publish to Locust's stats, as the notes' mqtt_locust does (but with its timeouts enforced).
paho leaves Nagle on, and so does this peer: with TCP_NODELAY set it measured ~3% slower (19.7k-19.9k
against 20.3k-20.6k msg/s), as each publish then goes out as its own segment.
"""
import json
import random
import time
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from locust import User, constant, events, task

TIMEOUT = 0.5
REPEAT_COUNT = 10


class Lamp(User):
    wait_time = constant(0)

    def on_start(self):
        url = urlparse(self.host)
        self.device_id = "%012x" % random.getrandbits(48)
        self.topic = "devices/%s/lamp/changed" % self.device_id
        self.client = mqtt.Client(client_id=self.device_id)
        self.client.connect(url.hostname, url.port or 1883)
        self.client.loop_start()

    def on_stop(self):
        self.client.loop_stop()
        self.client.disconnect()

    @task
    def lamp_changed(self):
        sent = []
        for _ in range(REPEAT_COUNT):
            payload = json.dumps({"on": random.choice(["true", "false"]), "color": {"h": random.random(), "s": random.random()}, "brightness": random.random(), "client": "locust"})
            sent.append((time.perf_counter(), self.client.publish(self.topic, payload, qos=1)))
        for started, info in sent:
            remaining = TIMEOUT - (time.perf_counter() - started)
            if remaining > 0:
                info.wait_for_publish(timeout=remaining)
            elapsed_ms = (time.perf_counter() - started) * 1000
            exception = None if info.is_published() else TimeoutError("no PUBACK within %.1f s" % TIMEOUT)
            events.request.fire(request_type="PUBLISH", name="lamp/changed", response_time=elapsed_ms, response_length=0, exception=exception, context={})
