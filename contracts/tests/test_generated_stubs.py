"""The committed Python stubs are what generate.py makes from the current protos."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parents[1]
# Lines stating which generator versions ran differ between installs of grpcio-tools
# without changing what the stubs contain.
_GENERATOR_VERSIONS = [
    re.compile(r"^# Protobuf Python Version: .*$", re.MULTILINE),
    re.compile(r"^_runtime_version\.ValidateProtobufRuntimeVersion\(\n(?:.*\n)*?\)$", re.MULTILINE),
    re.compile(r"^GRPC_GENERATED_VERSION = .*$", re.MULTILINE),
]


def load_generator():
    spec = importlib.util.spec_from_file_location("crm_contracts_generate", CONTRACTS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stub_files(root: Path) -> dict[str, str]:
    contents = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            text = path.read_text()
            for pattern in _GENERATOR_VERSIONS:
                text = pattern.sub("<generator version>", text)
            contents[path.relative_to(root).as_posix()] = text
    return contents


def test_committed_stubs_are_up_to_date(tmp_path):
    generator = load_generator()
    generator.generate(tmp_path / "grpc")
    fresh = stub_files(tmp_path / "grpc")
    committed = stub_files(generator.PACKAGE_DIR)
    assert sorted(committed) == sorted(fresh), "stub files differ: run `make proto` and commit crm_contracts/grpc"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale stubs {stale}: run `make proto` and commit crm_contracts/grpc"


def test_stubs_import_under_the_package_name():
    from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2, customer_service_pb2_grpc

    assert customer_service_pb2.DESCRIPTOR.package == "crm.sales.v1"
    assert customer_service_pb2.Customer.__module__ == "crm_contracts.grpc.crm.sales.v1.customer_service_pb2"
    assert customer_service_pb2_grpc.CustomerServiceStub.__module__.startswith("crm_contracts.grpc.")
    service = customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"]
    assert [m.name for m in service.methods] == [
        "GetCustomer",
        "BatchGetCustomers",
        "SearchCustomers",
        "WithdrawMarketingConsent",
    ]
    query = customer_service_pb2.SearchCustomersRequest.DESCRIPTOR.oneofs_by_name["query"]
    assert [f.name for f in query.fields] == ["phone", "iin_bin", "name_prefix", "text"]


def test_import_rewrite_targets_only_our_own_protos():
    rewrite = load_generator()._rewrite_imports
    source = (
        "from crm.common.v1 import money_pb2 as crm_dot_common_dot_v1_dot_money__pb2\n"
        "from google.protobuf import timestamp_pb2 as google_dot_protobuf_dot_timestamp__pb2\n"
        "import crm.sales.v1.x_pb2\n"
        "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'crm.sales.v1.x_pb2', _globals)\n"
    )
    assert rewrite(source) == (
        "from crm_contracts.grpc.crm.common.v1 import money_pb2 as crm_dot_common_dot_v1_dot_money__pb2\n"
        "from google.protobuf import timestamp_pb2 as google_dot_protobuf_dot_timestamp__pb2\n"
        "import crm_contracts.grpc.crm.sales.v1.x_pb2\n"
        "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'crm_contracts.grpc.crm.sales.v1.x_pb2', _globals)\n"
    )
