// Request bodies of /deviceAppManagement/vppTokens. Unknown properties are rejected (400 naming
// them); so are beta-only members on /v1.0. Read-only members that Graph's own examples send in a
// create body (organizationName, state, expirationDateTime, …) are accepted and ignored: Allot reads
// them from Apple.
import { Type } from "typebox";
import { accountTypes, deliveryProtocols } from "./tokens.entities.ts";

const Enum = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** A .vpptoken file's content (Base64 of JSON); a few KB at most. */
const TokenText = Type.String({
  minLength: 1,
  maxLength: 16384,
  description: "The .vpptoken file content. Write-only: never returned (reads show null).",
});

const writable = {
  "@odata.type": Type.Optional(Type.String()),
  appleId: Type.Optional(
    Nullable(
      Type.String({
        maxLength: 256,
        pattern: "^[^@\\s]+@[^@\\s]+$",
        description: "Apple ID of the Apple Business/School Manager account",
      }),
    ),
  ),
  countryOrRegion: Type.Optional(
    Nullable(
      Type.String({
        pattern: "^[A-Za-z]{2}$",
        description:
          "Storefront country (ISO 3166 alpha-2); default: the location's country at Apple. A change applies at the next sync (TOK-6).",
      }),
    ),
  ),
  vppTokenAccountType: Type.Optional(Enum(accountTypes)),
  automaticallyUpdateApps: Type.Optional(Type.Boolean()),
};

const readOnlyV1 = {
  id: Type.Optional(Type.String()),
  organizationName: Type.Optional(Type.Unknown()),
  expirationDateTime: Type.Optional(Type.Unknown()),
  lastSyncDateTime: Type.Optional(Type.Unknown()),
  lastModifiedDateTime: Type.Optional(Type.Unknown()),
  state: Type.Optional(Type.Unknown()),
  lastSyncStatus: Type.Optional(Type.Unknown()),
};

const betaOnly = {
  displayName: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  claimTokenManagementFromExternalMdm: Type.Optional(
    Type.Boolean({
      description:
        "Consent to take the token over when another MDM manages it (TOK-5); the take-over is audited.",
    }),
  ),
  dataSharingConsentGranted: Type.Optional(
    Type.Boolean({
      description:
        "Must be true (or absent): assigning licenses shares serial numbers and user ids with Apple.",
    }),
  ),
  roleScopeTagIds: Type.Optional(
    Type.Array(Type.String(), { maxItems: 100, description: "Only the default scope tag '0' exists." }),
  ),
  appleDeviceAppDeliveryProtocolType: Type.Optional(Enum(deliveryProtocols)),
  locationName: Type.Optional(Type.Unknown()),
  tokenActionResults: Type.Optional(Type.Unknown()),
};

export const VppTokenCreateV1 = Type.Object(
  { token: TokenText, ...writable, ...readOnlyV1 },
  { additionalProperties: false },
);
export const VppTokenCreateBeta = Type.Object(
  { token: TokenText, ...writable, ...readOnlyV1, ...betaOnly },
  { additionalProperties: false },
);
export const VppTokenUpdateV1 = Type.Object(
  { token: Type.Optional(TokenText), ...writable, ...readOnlyV1 },
  { additionalProperties: false },
);
export const VppTokenUpdateBeta = Type.Object(
  { token: Type.Optional(TokenText), ...writable, ...readOnlyV1, ...betaOnly },
  { additionalProperties: false },
);

export interface VppTokenInput {
  token?: string;
  appleId?: string | null;
  countryOrRegion?: string | null;
  vppTokenAccountType?: (typeof accountTypes)[number];
  automaticallyUpdateApps?: boolean;
  displayName?: string | null;
  claimTokenManagementFromExternalMdm?: boolean;
  dataSharingConsentGranted?: boolean;
  roleScopeTagIds?: string[];
  appleDeviceAppDeliveryProtocolType?: (typeof deliveryProtocols)[number];
}
