"""JSON bodies of Studio responses, shaped as the `edgeimpulse-api` 1.96.3 models.

Optional keys are left out rather than sent as null; only keys the models
mark nullable (`Project.whitelabelId`) carry an explicit null. Datetimes
are ISO 8601 in UTC with a `Z` suffix.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from emulator.dataset import CATEGORIES, SampleRecord

JsonObject = dict[str, Any]

DATA_QUALITY_CATEGORY = "Calculating data quality metrics"
DATA_QUALITY_CATEGORY_KEY = "data-quality-metrics"


def isoformat(moment: datetime) -> str:
    """Format a UTC datetime as Studio does, with milliseconds and a `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_body(message: str) -> JsonObject:
    return {"success": False, "error": message}


def sensors_json(sample: SampleRecord) -> list[JsonObject]:
    return [
        {"index": index, "name": axis.name, "units": axis.units}
        for index, axis in enumerate(sample.sensors)
    ]


def sample_json(
    sample: SampleRecord,
    *,
    project_id: int,
    project_name: str,
    owner: str,
    include_sensors: bool = True,
) -> JsonObject:
    """Build Studio's `Sample` object; `include_sensors=False` sends `sensors: []`."""
    sensors = sensors_json(sample) if include_sensors else []
    body: JsonObject = {
        "id": sample.id,
        "filename": sample.filename,
        # The bundled files carry no signature (alg "none"), so none was validated.
        "signatureValidate": False,
        "created": isoformat(sample.created),
        "lastModified": isoformat(sample.last_modified),
        "category": sample.category,
        "coldstorageFilename": f"ingestion/{project_id}/{sample.filename}.json",
        "label": sample.label,
        "intervalMs": sample.interval_ms,
        "frequency": sample.frequency_hz,
        "originalIntervalMs": sample.interval_ms,
        "originalFrequency": sample.frequency_hz,
        "deviceType": sample.device_type,
        "sensors": sensors,
        "valuesCount": sample.values_count,
        "totalLengthMs": sample.total_length_ms,
        "added": isoformat(sample.created),
        "boundingBoxes": [],
        "boundingBoxesType": "object_detection",
        "chartType": "chart",
        "isDisabled": sample.is_disabled,
        "isProcessing": False,
        "processingError": False,
        "isCropped": False,
        "projectId": project_id,
        "projectOwnerName": owner,
        "projectName": project_name,
        "projectLabelingMethod": "single_label",
        "sha256Hash": sample.sha256,
        "datastreams": [
            {
                "index": 0,
                "chartType": "chart",
                "intervalMs": sample.interval_ms,
                "frequencyHz": sample.frequency_hz,
                "sensors": sensors,
                "valuesCount": sample.values_count,
                "totalLengthMs": sample.total_length_ms,
            }
        ],
    }
    if sample.device_name:
        body["deviceName"] = sample.device_name
    if sample.metadata:
        body["metadata"] = dict(sample.metadata)
    return body


def payload_json(sample: SampleRecord, limit_values: int | None) -> JsonObject:
    """Build `RawSamplePayload`; note its two snake_case keys."""
    values = sample.values if limit_values is None else sample.values[:limit_values]
    body: JsonObject = {
        "device_type": sample.device_type,
        "sensors": sensors_json(sample),
        "values": values.tolist(),
        "intervalMs": sample.interval_ms,
        "frequencyHz": sample.frequency_hz,
    }
    if sample.device_name:
        body["device_name"] = sample.device_name
    return body


def data_summary_json(samples: Iterable[SampleRecord]) -> JsonObject:
    """Build `ProjectDataSummary`: labels are the sorted distinct labels of `samples`."""
    chosen = list(samples)
    labels = sorted({sample.label for sample in chosen})
    return {
        "totalLengthMs": float(sum(sample.total_length_ms for sample in chosen)),
        "labels": labels,
        "totalLabels": len(labels),
        "dataCount": len(chosen),
    }


def data_summary_per_category_json(samples: list[SampleRecord]) -> JsonObject:
    keys = {"training": "training", "testing": "testing", "validation": "validation"}
    keys["post-processing"] = "postProcessing"
    return {
        keys[category]: data_summary_json(s for s in samples if s.category == category)
        for category in CATEGORIES
    }


def project_json(project_id: int, name: str, owner: str, created: datetime) -> JsonObject:
    """Build Studio's `Project` object with every required key."""
    return {
        "id": project_id,
        "name": name,
        "description": "Served by the labelnoise Studio emulator.",
        "created": isoformat(created),
        "owner": owner,
        "ownerIsDeveloperProfile": False,
        "collaborators": [],
        "labelingMethod": "single_label",
        "metadata": {},
        "isEnterpriseProject": False,
        "whitelabelId": None,
        "tier": "free",
        "hasPublicVersion": False,
        "isPublic": False,
        "allowsLivePublicAccess": False,
        "indPauseProcessingSamples": False,
        "publicProjectListed": False,
        "category": "Accelerometer",
    }


def project_info_json(
    project: JsonObject, samples: list[SampleRecord], created: datetime
) -> JsonObject:
    """Build `ProjectInfoResponse`; `dataSummary` describes the training set."""
    training = [sample for sample in samples if sample.category == "training"]
    interval_ms = training[0].interval_ms if training else 1.0
    return {
        "success": True,
        "project": project,
        "developmentKeys": {},
        "impulse": {"created": False, "configured": False, "complete": False},
        "devices": [],
        "dataSummary": data_summary_json(training),
        "dataSummaryPerCategory": data_summary_per_category_json(samples),
        "computeTime": {
            "periodStartDate": isoformat(created),
            "periodEndDate": isoformat(created),
            "timeUsedMs": 0,
            "timeLeftMs": 20 * 60 * 1000,
        },
        "acquisitionSettings": {
            "intervalMs": interval_ms,
            "lengthMs": 10000,
            "segmentShift": False,
            "defaultPageSize": 20,
            "viewType": "list",
            "gridColumnCount": 3,
            "gridColumnCountDetailed": 3,
            "showExactSampleLength": False,
            "inlineEditBoundingBoxes": False,
        },
        "collaborators": [],
        "deploySettings": {
            "eonCompiler": True,
            "sensor": "accelerometer",
            "arduinoLibraryName": "emulator_inferencing",
            "tinkergenLibraryName": "emulator_inferencing",
            "particleLibraryName": "emulator_inferencing",
        },
        "experiments": [],
        "latencyDevices": [],
        "urls": {},
        "showCreateFirstImpulse": True,
        "showGettingStartedWizard": {"showWizard": False, "step": 0},
        "performance": {
            "gpu": False,
            "jobLimitM": 20,
            "dspFileSizeMb": 0,
            "enterprisePerformance": False,
            "trainJobRamMb": 0,
        },
        "trainJobNotificationUids": [],
        "dspJobNotificationUids": [],
        "modelTestingJobNotificationUids": [],
        "exportJobNotificationUids": [],
        "hasNewTrainingData": False,
        "studioUrl": "http://127.0.0.1/",
        "inPretrainedModelFlow": False,
        "showSensorDataInAcquisitionGraph": False,
        "notifications": [],
    }
