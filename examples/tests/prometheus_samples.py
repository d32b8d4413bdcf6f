"""Scrapes a Prometheus text-format endpoint and prints each sample as a JSON
line, parsed by prometheus_client (the reference Python client's parser), so
the metrics tests read the text as a Prometheus server would."""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(sys.argv[1], timeout=10) as response:
    content_type = response.headers.get("content-type", "")
    text = response.read().decode("utf-8")
print(json.dumps({"content_type": content_type}))
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        print(json.dumps({
            "family": family.name,
            "type": family.type,
            "name": sample.name,
            "labels": sample.labels,
            "value": sample.value,
        }))
