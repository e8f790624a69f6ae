import { Badge, type BadgeProps } from "@fluentui/react-components";

type Color = NonNullable<BadgeProps["color"]>;

/** Known states → colour and words; anything else shows as an informative grey badge with its own name. */
const known: Record<string, [Color, string]> = {
  valid: ["success", "Valid"],
  expired: ["danger", "Expired"],
  invalid: ["danger", "Invalid"],
  assignedToExternalMDM: ["warning", "Assigned to another MDM"],
  duplicateLocationId: ["warning", "Duplicate"],
  duplicate: ["warning", "Duplicate"],
  completed: ["success", "Completed"],
  inProgress: ["brand", "In progress"],
  failed: ["danger", "Failed"],
  none: ["informative", "Never synced"],
  unknown: ["informative", "Unknown"],
  assigned: ["success", "Licensed"],
  pendingAssign: ["brand", "Pending"],
  pendingRelease: ["brand", "Releasing"],
  released: ["informative", "Released"],
  waiting: ["warning", "Waiting"],
};

export function StateBadge({ state, label }: { state: string | null | undefined; label?: string }) {
  const [color, text] = known[state ?? "none"] ?? (["informative", state ?? "Unknown"] as [Color, string]);
  return (
    <Badge appearance="tint" color={color} shape="rounded">
      {label ?? text}
    </Badge>
  );
}
