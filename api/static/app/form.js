// The survey form of FORM.md (household-verification/1), checked as it is typed: every ID
// number's check character and birth date, the answers that are required, and the seven
// indicators told in plain words as they stand — so the surveyor sees at the door what the
// service will judge.
"use strict";

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = "10X98765432";
/// The default income line (yuan per person per year); the service's setting decides.
export const INCOME_LINE = 4000;

const FIELD_WORDS = {
  members: "家庭成员", visited_at: "走访时间", location: "走访地点", household_code: "户编码",
  income: "家庭纯收入", "income.net_cny": "家庭纯收入", "income.year": "收入年度",
  food_secure: "不愁吃", clothing_secure: "不愁穿", housing: "住房安全等级",
  "housing.safety_grade": "住房安全等级", "housing.relocated": "易地扶贫搬迁", water: "饮水安全",
  "water.safe": "饮水安全", "water.source": "饮水水源", photos: "佐证照片", remarks: "备注",
};
const MEMBER_WORDS = { name: "姓名", id_number: "身份证号", relation: "与户主关系", schooling: "上学情况",
  medical_insurance: "基本医疗保险" };

/// A survey field a reviewer's reason names (`members[1].schooling`, `photos[p2]`) in words,
/// with the member's name from `survey` (the console says the same; an unknown path as sent).
export function fieldWords(path, survey) {
  const m = /^members\[(\d+)\](?:\.(\w+))?$/.exec(path || "");
  if (m) {
    const i = Number(m[1]);
    const who = survey && survey.members && survey.members[i]
      ? `第 ${i + 1} 位成员（${survey.members[i].name}）` : `第 ${i + 1} 位成员`;
    return m[2] ? `${who}的${MEMBER_WORDS[m[2]] || m[2]}` : who;
  }
  const p = /^photos\[(\w+)\]$/.exec(path || "");
  if (p) return `照片 ${p[1]}`;
  return FIELD_WORDS[path] || path;
}

/// What is wrong with an ID number (GB 11643), or null when it is right.
export function idProblem(id) {
  const v = (id || "").trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(v)) return "身份证号应为 18 位（最后一位可为 X）";
  const sum = WEIGHTS.reduce((n, w, i) => n + w * Number(v[i]), 0);
  if (CHECK[sum % 11] !== v[17]) return "身份证号校验位不对，请核对";
  if (!birthOf(v)) return "身份证号中的出生日期不存在";
  return null;
}

export function birthOf(id) {
  const m = /^\d{6}(\d{4})(\d{2})(\d{2})/.exec(id || "");
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return { y, mo, d };
}

export function ageOn(id, day) {
  const b = birthOf(id);
  if (!b) return null;
  let age = day.getFullYear() - b.y;
  if (day.getMonth() + 1 < b.mo || (day.getMonth() + 1 === b.mo && day.getDate() < b.d)) age -= 1;
  return age;
}

/// Now, RFC 3339 with the phone's offset (Beijing: +08:00).
export function nowWithOffset(d = new Date()) {
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

/// The seven indicators as they stand, in words: [name, passes, why].
export function indicators(doc) {
  const day = new Date(doc.visited_at || Date.now());
  const n = Math.max(doc.members.length, 1);
  const perCapita = (Number(doc.income.net_cny) || 0) / n;
  const schoolAge = doc.members.filter((m) => {
    const a = ageOn(m.id_number, day);
    return a !== null && a >= 6 && a <= 15;
  });
  const outOfSchool = schoolAge.filter((m) => m.schooling === null || m.schooling === "not_enrolled");
  const uninsured = doc.members.filter((m) => !m.medical_insurance);
  const names = (list) => list.map((m) => m.name || "（未填姓名）").join("、");
  return [
    ["一达标（人均纯收入）", perCapita >= INCOME_LINE,
      `人均 ${Math.round(perCapita)} 元，标准 ${INCOME_LINE} 元（以服务设定为准）`],
    ["不愁吃", doc.food_secure === true, doc.food_secure ? "吃饭有保障" : "吃饭没有保障"],
    ["不愁穿", doc.clothing_secure === true, doc.clothing_secure ? "穿衣有保障" : "穿衣没有保障"],
    ["义务教育有保障", outOfSchool.length === 0,
      outOfSchool.length ? `6–15 岁未入学或未填：${names(outOfSchool)}` : "6–15 岁的都在校或送教上门"],
    ["基本医疗有保障", uninsured.length === 0,
      uninsured.length ? `未参加基本医疗保险：${names(uninsured)}` : "全家都参加了基本医疗保险"],
    ["住房安全有保障", ["A", "B"].includes(doc.housing.safety_grade) || doc.housing.relocated === true,
      "A、B 级或已易地搬迁为安全；C、D 级为危房"],
    ["饮水安全有保障", doc.water.safe === true, doc.water.safe ? "饮水安全" : "饮水不安全"],
  ];
}

/// Every reason the document cannot be signed yet, in words (empty when it can).
export function problems(doc, photos) {
  const out = [];
  if (!/^\d{12}-\d{4}$/.test(doc.household_code || "")) out.push("请选择或填写户编码（12 位村代码-4 位序号）");
  if (!Number.isFinite(doc.location.lat) || !Number.isFinite(doc.location.lon)) out.push("请获取或填写走访地点");
  if (!doc.members.length) out.push("请至少填写一位家庭成员");
  const seen = new Set();
  doc.members.forEach((m, i) => {
    if (!m.name.trim()) out.push(`第 ${i + 1} 位成员未填姓名`);
    const p = idProblem(m.id_number);
    if (p) out.push(`第 ${i + 1} 位成员：${p}`);
    if (seen.has(m.id_number)) out.push(`第 ${i + 1} 位成员的身份证号与前面重复`);
    seen.add(m.id_number);
  });
  if (!doc.members.some((m) => m.relation === "head")) out.push("请标明户主");
  if (!Number.isFinite(doc.income.net_cny) || doc.income.net_cny < 0) out.push("请填写家庭纯收入（元）");
  if (!Number.isInteger(doc.income.year)) out.push("请填写收入年度");
  if (!photos.some((p) => p.kind === "house")) out.push("缺少住房照片");
  if (!photos.some((p) => p.kind === "household_with_verifier")) out.push("缺少入户合影（核实人与农户合影）");
  return out;
}

/// An element with its attributes (`on…` are listeners) and children (text is text, never HTML).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function select(name, options, value) {
  return el("select", { name }, options.map(([v, t]) => el("option", { value: v, selected: v === value }, t)));
}

const RELATIONS = [["head", "户主"], ["spouse", "配偶"], ["child", "子女"], ["parent", "父母"],
  ["grandchild", "孙辈"], ["sibling", "兄弟姐妹"], ["other", "其他"]];
const SCHOOLING = [["", "—"], ["enrolled", "在校"], ["exempt_disability", "送教上门等"], ["not_enrolled", "未入学"]];
const PHOTO_KINDS = [["house", "住房（必拍）"], ["household_with_verifier", "入户合影（必拍）"],
  ["water_source", "饮水水源"], ["document", "证件材料"]];

/// Draw the form in `root`. `prefill`: a survey to start from (a correction) and its photos;
/// `save(doc, photos)` is called with a complete document (unsigned) and the photos as taken.
export function render(root, { households, prefill, prefillPhotos, save }) {
  root.replaceChildren();
  const base = prefill || {};
  const members = el("tbody");
  const hints = el("ul", { class: "hints", id: "hints" });
  const errors = el("ul", { class: "errors", id: "errors" });
  const photoInputs = {};
  const kept = {};
  for (const p of prefillPhotos || []) kept[p.kind] = p;

  const code = el("input", { name: "household_code", list: "households", value: base.household_code || "",
    placeholder: "522732101201-0001", inputmode: "numeric", autocomplete: "off", required: true });
  const list = el("datalist", { id: "households" },
    (households || []).map((h) => el("option", { value: h.household_code }, `${h.head_name || ""} ${h.village_name || ""}`)));
  const lat = el("input", { name: "lat", type: "number", step: "any", value: base.location ? base.location.lat : "" });
  const lon = el("input", { name: "lon", type: "number", step: "any", value: base.location ? base.location.lon : "" });
  const acc = el("input", { name: "accuracy", type: "number", step: "any", value: base.location ? base.location.accuracy_m : "" });
  const locate = el("button", { type: "button", onclick: () => {
    if (!navigator.geolocation) return;
    locate.textContent = "定位中…";
    navigator.geolocation.getCurrentPosition((p) => {
      lat.value = p.coords.latitude.toFixed(6);
      lon.value = p.coords.longitude.toFixed(6);
      acc.value = Math.round(p.coords.accuracy);
      locate.textContent = "重新定位";
      update();
    }, () => { locate.textContent = "定位失败，请手填"; }, { enableHighAccuracy: true, timeout: 30000 });
  } }, "获取定位");

  function memberRow(m = {}) {
    const id = el("input", { name: "id_number", value: m.id_number || "", maxlength: 18, autocomplete: "off",
      inputmode: "text", placeholder: "18 位身份证号" });
    const note = el("small", { class: "field-note" });
    const row = el("tr", {},
      el("td", {}, el("input", { name: "name", value: m.name || "", placeholder: "姓名" })),
      el("td", {}, id, note),
      el("td", {}, select("relation", RELATIONS, m.relation || (members.children.length ? "child" : "head"))),
      el("td", {}, select("schooling", SCHOOLING, m.schooling || "")),
      el("td", {}, el("label", {}, el("input", { type: "checkbox", name: "insured", checked: m.medical_insurance !== false }), "已参保")),
      el("td", {}, el("button", { type: "button", class: "remove", onclick: () => { row.remove(); update(); } }, "删")));
    id.addEventListener("input", () => {
      const v = id.value.trim();
      note.textContent = v.length === 18 ? (idProblem(v) || `✓ ${ageOn(v, new Date()) ?? "?"} 岁`) : "";
      note.className = "field-note " + (v.length === 18 && idProblem(v) ? "bad" : "ok");
    });
    members.append(row);
    id.dispatchEvent(new Event("input"));
  }
  for (const m of base.members || [{}]) memberRow(m);

  const year = el("input", { name: "year", type: "number", value: base.income ? base.income.year : new Date().getFullYear() - 1 });
  const net = el("input", { name: "net", type: "number", min: 0, step: "1", value: base.income ? base.income.net_cny : "", placeholder: "元" });
  const yesNo = (name, v) => select(name, [["true", "是"], ["false", "否"]], v === false ? "false" : "true");
  const food = yesNo("food", base.food_secure);
  const clothing = yesNo("clothing", base.clothing_secure);
  const grade = select("grade", [["A", "A 级（安全）"], ["B", "B 级（基本安全）"], ["C", "C 级（局部危险）"], ["D", "D 级（危房）"]],
    base.housing ? base.housing.safety_grade : "B");
  const relocated = el("input", { type: "checkbox", name: "relocated", checked: base.housing ? base.housing.relocated : false });
  const waterSafe = yesNo("water_safe", base.water ? base.water.safe : true);
  const source = select("water_source", [["piped", "自来水"], ["well", "井水"], ["spring", "山泉水"], ["cistern", "水窖"], ["other", "其他"]],
    base.water ? base.water.source : "piped");
  const remarks = el("textarea", { name: "remarks", rows: 2 }, base.remarks || "");
  const revisit = el("input", { type: "checkbox", name: "revisit" });

  const photoRows = PHOTO_KINDS.map(([kind, label]) => {
    const input = el("input", { type: "file", name: "photo_" + kind, accept: "image/jpeg,image/png", capture: "environment" });
    const preview = el("span", { class: "photo-note" }, kept[kind] ? "（沿用原照片，可重拍）" : "");
    input.addEventListener("change", () => {
      preview.textContent = input.files[0] ? `${Math.round(input.files[0].size / 1024)} KB` : "";
      update();
    });
    photoInputs[kind] = input;
    return el("div", { class: "photo-row" }, el("label", {}, label, input), preview);
  });

  function takenPhotos() {
    const out = [];
    let n = 1;
    for (const [kind] of PHOTO_KINDS) {
      const file = photoInputs[kind].files[0];
      const blob = file || (kept[kind] && kept[kind].blob);
      if (blob) out.push({ part: "p" + n++, kind, blob, name: file ? file.name : kept[kind].name });
    }
    return out;
  }

  function doc() {
    const num = (input) => (input.value === "" ? NaN : Number(input.value));
    return {
      id: crypto.randomUUID(),
      form: "household-verification/1",
      supersedes: base.supersedes || null,
      household_code: code.value.trim(),
      // A correction keeps the visit it corrects unless the surveyor went again.
      visited_at: base.visited_at && !revisit.checked ? base.visited_at : nowWithOffset(),
      location: { lat: num(lat), lon: num(lon), accuracy_m: Number.isFinite(num(acc)) ? num(acc) : 50 },
      members: [...members.children].map((tr) => ({
        name: tr.querySelector("[name=name]").value.trim(),
        id_number: tr.querySelector("[name=id_number]").value.trim().toUpperCase(),
        relation: tr.querySelector("[name=relation]").value,
        schooling: tr.querySelector("[name=schooling]").value || null,
        medical_insurance: tr.querySelector("[name=insured]").checked,
      })),
      income: { year: num(year), net_cny: num(net) },
      food_secure: food.value === "true",
      clothing_secure: clothing.value === "true",
      housing: { safety_grade: grade.value, relocated: relocated.checked },
      water: { safe: waterSafe.value === "true", source: source.value },
      photos: [],
      remarks: remarks.value.trim(),
    };
  }

  function update() {
    const d = doc();
    hints.replaceChildren(...indicators(d).map(([name, ok, why]) =>
      el("li", { class: ok ? "pass" : "fail" }, `${name}：${ok ? "达标" : "未达标"}（${why}）`)));
  }

  let saving = false;
  const form = el("form", { id: "survey", class: "survey", onsubmit: async (ev) => {
    ev.preventDefault();
    if (saving) return;
    const d = doc();
    const photos = takenPhotos();
    const wrong = problems(d, photos);
    errors.replaceChildren(...wrong.map((w) => el("li", {}, w)));
    if (wrong.length) {
      errors.scrollIntoView({ behavior: "smooth" });
      return;
    }
    // One survey per press, however long the photos take to hash.
    saving = true;
    const button = form.querySelector("#sign-and-save");
    button.disabled = true;
    button.textContent = "正在签名保存…";
    try {
      await save(d, photos);
    } catch (err) {
      errors.replaceChildren(el("li", {}, "未能保存：" + (err.message || err)));
      errors.scrollIntoView({ behavior: "smooth" });
      saving = false;
      button.disabled = false;
      button.textContent = "签名并保存（无网也可）";
    }
  }, oninput: update, onchange: update },
  el("h2", {}, base.supersedes ? "更正被退回的调查" : "入户核实调查"),
  el("fieldset", {}, el("legend", {}, "农户"), el("label", {}, "户编码", code), list,
    base.visited_at ? el("label", {}, revisit, "本次重新入户走访（走访时间改为现在）") : ""),
  el("fieldset", {}, el("legend", {}, "走访地点"), locate,
    el("label", {}, "纬度", lat), el("label", {}, "经度", lon), el("label", {}, "精度（米）", acc)),
  el("fieldset", {}, el("legend", {}, "家庭成员"),
    el("table", { class: "members" }, el("thead", {}, el("tr", {},
      ["姓名", "身份证号", "关系", "上学（6–15 岁）", "医保", ""].map((t) => el("th", {}, t)))), members),
    el("button", { type: "button", id: "add-member", onclick: () => { memberRow(); update(); } }, "添加成员")),
  el("fieldset", {}, el("legend", {}, "收入与“两不愁”"),
    el("label", {}, "收入年度", year), el("label", {}, "家庭纯收入（元）", net),
    el("label", {}, "不愁吃", food), el("label", {}, "不愁穿", clothing)),
  el("fieldset", {}, el("legend", {}, "住房与饮水"),
    el("label", {}, "住房安全等级", grade), el("label", {}, relocated, "已易地扶贫搬迁"),
    el("label", {}, "饮水安全", waterSafe), el("label", {}, "水源", source)),
  el("fieldset", {}, el("legend", {}, "照片（原样保存，含拍摄时间和地点）"), photoRows),
  el("fieldset", {}, el("legend", {}, "备注"), remarks),
  el("h3", {}, "按目前填写的七项指标"), hints,
  errors,
  el("button", { type: "submit", id: "sign-and-save", class: "primary" }, "签名并保存（无网也可）"));
  root.append(form);
  update();
  return form;
}
