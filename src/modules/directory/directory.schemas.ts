// Request bodies of the directory routes. Unknown properties are rejected (400 naming them);
// fields Graph scripts habitually send but Allot has no use for (passwordProfile, mailNickname on
// users) are accepted and ignored so those scripts keep working.
import { Type } from "typebox";
import { joinTypes, memberKinds, operatingSystems, ownerTypes } from "./directory.entities.ts";

const NullableString = (opts: Record<string, unknown> = {}) => Type.Union([Type.String({ maxLength: 1024, ...opts }), Type.Null()]);
const OdataType = Type.Optional(Type.String());
const Enum = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));
export const upnPattern = "^[^@\\s]+@[^@\\s]+$";

const userFields = {
  "@odata.type": OdataType,
  displayName: Type.String({ minLength: 1, maxLength: 256 }),
  userPrincipalName: Type.String({ pattern: upnPattern, maxLength: 1024 }),
  accountEnabled: Type.Boolean(),
  mail: Type.Optional(NullableString()),
  appleIdEmail: Type.Optional(NullableString({ pattern: upnPattern })),
  usageLocation: Type.Optional(NullableString({ pattern: "^[A-Za-z]{2}$" })),
  givenName: Type.Optional(NullableString()),
  surname: Type.Optional(NullableString()),
  jobTitle: Type.Optional(NullableString()),
  department: Type.Optional(NullableString()),
  mailNickname: Type.Optional(Type.String()),
  passwordProfile: Type.Optional(Type.Object({}, { additionalProperties: true })),
};
export const UserCreate = Type.Object(userFields, { additionalProperties: false });
export const UserUpdate = Type.Partial(Type.Object(userFields), { additionalProperties: false });

const groupFields = {
  "@odata.type": OdataType,
  displayName: Type.String({ minLength: 1, maxLength: 256 }),
  description: Type.Optional(NullableString()),
  mailNickname: Type.Optional(NullableString({ minLength: 1, maxLength: 64, pattern: "^[^\\s@]+$" })),
  mailEnabled: Type.Optional(Type.Boolean()),
  securityEnabled: Type.Optional(Type.Boolean()),
  groupTypes: Type.Optional(Type.Array(Type.String(), { maxItems: 0 })),
  memberKind: Type.Optional(Enum(memberKinds)),
  "members@odata.bind": Type.Optional(Type.Array(Type.String(), { maxItems: 20 })),
};
export const GroupCreate = Type.Object(groupFields, { additionalProperties: false });
const { "members@odata.bind": _bind, ...groupUpdatable } = groupFields;
export const GroupUpdate = Type.Partial(Type.Object(groupUpdatable), { additionalProperties: false });

const deviceFields = {
  "@odata.type": OdataType,
  deviceName: Type.String({ minLength: 1, maxLength: 256 }),
  serialNumber: Type.Optional(NullableString({ minLength: 1, maxLength: 64 })),
  operatingSystem: Enum(operatingSystems),
  osVersion: Type.Optional(NullableString({ maxLength: 64 })),
  managedDeviceOwnerType: Type.Optional(Enum(ownerTypes)),
  isSupervised: Type.Optional(Type.Boolean()),
  userId: Type.Optional(Type.Union([Type.String({ format: "uuid" }), Type.Null()])),
  joinType: Type.Optional(Type.Union([Enum(joinTypes), Type.Null()])),
  kioskMode: Type.Optional(Type.Boolean()),
  iTunesStoreBlocked: Type.Optional(Type.Boolean()),
  storeAppBlocked: Type.Optional(Type.Boolean()),
};
export const DeviceCreate = Type.Object(deviceFields, { additionalProperties: false });
export const DeviceUpdate = Type.Partial(Type.Object(deviceFields), { additionalProperties: false });

export const MemberRef = Type.Object({ "@odata.id": Type.String({ minLength: 1 }) }, { additionalProperties: false });
