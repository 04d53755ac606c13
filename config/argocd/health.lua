-- Argo CD health check for eksaccess.io/AccessEntry, read from its kstatus
-- conditions (docs/conditions.md):
--   Degraded     Stalled=True for the current generation: a person must act.
--   Healthy      Ready=True and status.observedGeneration is metadata.generation.
--   Progressing  anything else: no status yet, Reconciling=True, Ready=False
--                without Stalled, or a generation the operator has not handled.
-- Argo CD opens only the base and table libraries for a health check from
-- argocd-cm, so this script uses no string library (no string.*, no s:method()).
-- It never sees an object being deleted: Argo CD reports those itself.

local hs = { status = "Progressing", message = "Waiting for the operator" }

local function number(v)
  if v == nil then
    return nil
  end
  return tonumber(v)
end

local function text(v)
  if v == nil or v == "" then
    return nil
  end
  return v
end

local generation = number(obj.metadata and obj.metadata.generation)
local status = obj.status
if status == nil or status.conditions == nil then
  return hs
end

local conds = {}
for _, c in ipairs(status.conditions) do
  if c.type ~= nil then
    conds[c.type] = c
  end
end
local ready = conds["Ready"]
local stalled = conds["Stalled"]
local reconciling = conds["Reconciling"]

-- A condition written for an older generation says nothing about the spec now.
local function current(c)
  local observed = number(c.observedGeneration)
  return observed == nil or generation == nil or observed == generation
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

if isTrue(stalled) and current(stalled) then
  hs.status = "Degraded"
  hs.message = text(stalled.message) or (ready and text(ready.message))
    or ("Stalled: " .. (stalled.reason or "the operator needs help"))
  return hs
end

local handled = number(status.observedGeneration) == generation
if isTrue(ready) and handled and not isTrue(reconciling) then
  hs.status = "Healthy"
  hs.message = text(ready.message) or "Ready"
  return hs
end

if ready ~= nil and not isTrue(ready) and current(ready) and text(ready.message) then
  hs.message = ready.message
elseif isTrue(reconciling) and text(reconciling.message) then
  hs.message = reconciling.message
elseif not handled and generation ~= nil then
  hs.message = "Waiting for the operator to handle generation " .. generation
end
return hs
