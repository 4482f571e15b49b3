"""The protocol faces' scenarios are selectable by name: `simulate_mes --scenario word-order-swap` is accepted and
reaches the face that plays it; a scenario whose face is not running is refused with the fix."""
import pytest
from django.core.management import CommandError

from connectors.management.commands.simulate_mes import Command, build_simulator
from connectors.simulator.plant import PROTOCOL_SCENARIOS, SCENARIOS

FACE_SCENARIOS = ("word-order-swap", "device-down", "duplicate-deliveries")


def parse(*argv):
    return vars(Command().create_parser("manage.py", "simulate_mes").parse_args(argv))


@pytest.mark.parametrize("name", FACE_SCENARIOS)
def test_the_command_accepts_the_protocol_scenarios(name):
    assert name in SCENARIOS
    assert parse("--scenario", name)["scenario"] == name


def test_an_unknown_scenario_is_refused_by_name():
    with pytest.raises(CommandError, match="word-order-swapped"):
        parse("--scenario", "word-order-swapped")


def test_every_protocol_scenario_names_a_face_that_exists():
    from connectors.simulator.faces import FACES

    assert set(PROTOCOL_SCENARIOS) <= set(SCENARIOS)
    assert set(PROTOCOL_SCENARIOS.values()) <= set(FACES)


@pytest.mark.parametrize(("name", "face", "reacts"), [
    ("word-order-swap", "modbus", lambda face: face.bank.word_order_swapped),
    ("duplicate-deliveries", "mqtt", lambda face: face.duplicates),
])
def test_the_scenario_reaches_its_face(name, face, reacts):
    simulator = build_simulator(parse("--scenario", name, "--faces", face))
    assert simulator.plant.scenario.name == name
    assert reacts(simulator.faces[0])


def test_normal_does_not_switch_the_faces_scenarios_on():
    simulator = build_simulator(parse("--faces", "modbus,mqtt"))
    modbus, mqtt = simulator.faces
    assert (modbus.bank.word_order_swapped, mqtt.duplicates) == (False, False)


def test_a_scenario_without_its_face_is_refused_with_the_fix():
    with pytest.raises(CommandError, match=r"device-down is played by the modbus face.*--faces opcua,modbus"):
        build_simulator(parse("--scenario", "device-down"))
