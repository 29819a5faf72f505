from scim_service.protocol.schema import (
    GROUP,
    RESOURCE_TYPES,
    SCHEMAS,
    USER,
    schema_representation,
)


def test_user_schema_does_not_advertise_groups() -> None:
    rep = schema_representation(USER.schema, "https://h/scim/v2")
    names = [a["name"] for a in rep["attributes"]]
    assert "userName" in names
    assert "groups" not in names


def test_resource_types_are_user_and_group() -> None:
    assert RESOURCE_TYPES == {"User": USER, "Group": GROUP}
    assert set(SCHEMAS) == set(USER.schema_ids) | {GROUP.schema.id}
