"""The iot-node flat-out device as a Locust FastHttpUser: the peer of fleetsim's iot-node-flat-out."""
import random

from locust import FastHttpUser, constant, task


class IotNode(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.device_id = "%012x" % random.getrandbits(48)
        self.client.get("/greet?id=" + self.device_id, name="/greet")

    @task(10)
    def data(self):
        self.client.post("/data", json={"temperature": random.uniform(1, 100), "humidity": random.uniform(0, 100)}, name="/data")

    @task(1)
    def health(self):
        self.client.post("/health", json={"vbat": random.uniform(0, 5), "available_memory": random.randint(1, 1024), "n_failed_req": random.randint(1, 10)}, name="/health")

    @task(1)
    def ota(self):
        self.client.get("/ota?id=" + self.device_id, name="/ota")
