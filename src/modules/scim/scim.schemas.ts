// SCIM 2.0 (RFC 7643/7644) message and resource URNs, the loose request schemas of the SCIM routes
// (SCIM clients send many attributes Allot does not keep; the service reads what it maps and ignores
// the rest), and the static discovery documents: ServiceProviderConfig, Schemas, ResourceTypes.
import { Type } from "typebox";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

export const SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8";
/** Largest page a list returns (ServiceProviderConfig filter.maxResults). */
export const MAX_RESULTS = 1000;
export const DEFAULT_COUNT = 100;

// ---------------------------------------------------------------- request schemas (documentation)
const Any = Type.Optional(Type.Unknown());
export const ScimIdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1024 }) });
export const ScimListQuery = Type.Object(
  {
    filter: Type.Optional(Type.String({ maxLength: 4096, description: 'e.g. userName eq "ada@contoso.com"' })),
    startIndex: Type.Optional(Type.String({ pattern: "^-?\\d{1,9}$", description: "1-based index of the first result" })),
    count: Type.Optional(Type.String({ pattern: "^-?\\d{1,9}$", description: `page size (at most ${MAX_RESULTS})` })),
    attributes: Type.Optional(Type.String()),
    excludedAttributes: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export const ScimResourceQuery = Type.Object({ attributes: Type.Optional(Type.String()), excludedAttributes: Type.Optional(Type.String()) }, { additionalProperties: true });
export const ScimUserBody = Type.Object(
  { schemas: Any, externalId: Any, userName: Any, active: Any, displayName: Any, name: Any, title: Any, emails: Any, [ENTERPRISE_SCHEMA]: Any },
  { additionalProperties: true, description: "A SCIM User (RFC 7643 §4.1) with the enterprise extension; unmapped attributes are ignored." },
);
export const ScimGroupBody = Type.Object(
  { schemas: Any, externalId: Any, displayName: Any, members: Any },
  { additionalProperties: true, description: "A SCIM Group (RFC 7643 §4.2); members are users and groups by id." },
);
export const ScimPatchBody = Type.Object(
  { schemas: Any, Operations: Any },
  { additionalProperties: true, description: 'A PatchOp (RFC 7644 §3.5.2); op is case-insensitive ("Add", "Replace", "Remove" as Entra ID sends them).' },
);
export const ScimTokenCreate = Type.Object({ displayName: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
export const ScimTokenId = Type.Object({ id: Type.String({ format: "uuid" }) });

// ---------------------------------------------------------------- discovery documents
interface AttrOpts {
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned?: "always" | "never" | "default" | "request";
  uniqueness?: "none" | "server" | "global";
  subAttributes?: Record<string, unknown>[];
  canonicalValues?: string[];
  referenceTypes?: string[];
}
function attr(name: string, type: "string" | "boolean" | "complex" | "reference" | "dateTime", description: string, o: AttrOpts = {}) {
  return {
    name,
    type,
    multiValued: o.multiValued ?? false,
    description,
    required: o.required ?? false,
    caseExact: o.caseExact ?? false,
    mutability: o.mutability ?? "readWrite",
    returned: o.returned ?? "default",
    uniqueness: o.uniqueness ?? "none",
    ...(o.subAttributes ? { subAttributes: o.subAttributes } : {}),
    ...(o.canonicalValues ? { canonicalValues: o.canonicalValues } : {}),
    ...(o.referenceTypes ? { referenceTypes: o.referenceTypes } : {}),
  };
}

const userSchema = {
  id: USER_SCHEMA,
  name: "User",
  description: "User account (Allot user: userName is the userPrincipalName, active is accountEnabled)",
  attributes: [
    attr("userName", "string", "Unique identifier of the user, mapped to userPrincipalName.", { required: true, uniqueness: "server" }),
    attr("name", "complex", "The components of the user's name.", {
      subAttributes: [attr("givenName", "string", "Given name (givenName)."), attr("familyName", "string", "Family name (surname)."), attr("formatted", "string", "Full name, read only.", { mutability: "readOnly" })],
    }),
    attr("displayName", "string", "Name shown in the console (displayName); defaults to userName."),
    attr("title", "string", "Job title (jobTitle)."),
    attr("active", "boolean", "Whether the account is enabled (accountEnabled); false frees the user's licenses."),
    attr("emails", "complex", "E-mail address; the primary or work address is kept as mail.", {
      multiValued: true,
      subAttributes: [
        attr("value", "string", "The e-mail address."),
        attr("type", "string", "Kind of address.", { canonicalValues: ["work"] }),
        attr("primary", "boolean", "Whether this is the primary address."),
      ],
    }),
  ],
  meta: { resourceType: "Schema", location: `/Schemas/${USER_SCHEMA}` },
};
const enterpriseSchema = {
  id: ENTERPRISE_SCHEMA,
  name: "EnterpriseUser",
  description: "Enterprise user extension",
  attributes: [attr("department", "string", "Department (department).")],
  meta: { resourceType: "Schema", location: `/Schemas/${ENTERPRISE_SCHEMA}` },
};
const groupSchema = {
  id: GROUP_SCHEMA,
  name: "Group",
  description: "Group (an Allot group; SCIM members are users and groups)",
  attributes: [
    attr("displayName", "string", "Name of the group.", { required: true }),
    attr("members", "complex", "Direct members: users and groups by id.", {
      multiValued: true,
      subAttributes: [
        attr("value", "string", "Id of the member.", { mutability: "immutable", caseExact: true }),
        attr("$ref", "reference", "URI of the member.", { mutability: "immutable", referenceTypes: ["User", "Group"] }),
        attr("display", "string", "Display name of the member.", { mutability: "readOnly" }),
        attr("type", "string", "User or Group.", { mutability: "immutable", canonicalValues: ["User", "Group"] }),
      ],
    }),
  ],
  meta: { resourceType: "Schema", location: `/Schemas/${GROUP_SCHEMA}` },
};
const commonAttributes = [
  attr("id", "string", "Allot's id of the resource.", { mutability: "readOnly", returned: "always", uniqueness: "server", caseExact: true }),
  attr("externalId", "string", "The identity provider's id of the resource.", { caseExact: true }),
];

export function schemaDocuments(base: string) {
  return [userSchema, enterpriseSchema, groupSchema].map((s) => ({
    schemas: [SCHEMA_SCHEMA],
    ...s,
    attributes: s.id === ENTERPRISE_SCHEMA ? s.attributes : [...commonAttributes, ...s.attributes],
    meta: { ...s.meta, location: `${base}${s.meta.location}` },
  }));
}

export function resourceTypeDocuments(base: string) {
  return [
    { schemas: [RESOURCE_TYPE_SCHEMA], id: "User", name: "User", endpoint: "/Users", description: "User account", schema: USER_SCHEMA, schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }], meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` } },
    { schemas: [RESOURCE_TYPE_SCHEMA], id: "Group", name: "Group", endpoint: "/Groups", description: "Group", schema: GROUP_SCHEMA, schemaExtensions: [], meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` } },
  ];
}

export function serviceProviderConfig(base: string) {
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      { type: "oauthbearertoken", name: "Bearer token", description: "A per-tenant SCIM secret from POST /beta/admin/scimTokens or `allot scim-token create`, sent as Authorization: Bearer <secret>.", primary: true },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}
