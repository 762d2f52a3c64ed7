"""Messages of the report in Chinese and English: fixed texts by id (:data:`TEXT`), and the notes the families and
kinds write in English rendered in Chinese by templates (:data:`NOTE_TEMPLATES`, regular expressions with named
groups). A note no template knows is given in English, marked, so nothing is silently dropped.
"""

from __future__ import annotations

import re

LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "report": {"zh": "规划报告", "en": "Plan report"},
    "area": {"zh": "区域", "en": "Area"},
    "whole_area": {"zh": "全部区域", "en": "whole area"},
    "district": {"zh": "区", "en": "district"},
    "township": {"zh": "街乡镇", "en": "township"},
    "travel": {"zh": "出行方式", "en": "travel"},
    "residents": {
        "zh": "常住人口 {n:,} 人,其中60岁及以上 {n60:,} 人(2020年第七次人口普查)",
        "en": "{n:,} residents, {n60:,} aged 60+ (2020 census)",
    },
    "targets": {
        "zh": "目标与完成情况(北京市“十四五”民政事业发展规划)",
        "en": "Targets and achievements (Beijing 14th Five-Year civil-affairs plan)",
    },
    "facility": {"zh": "设施", "en": "facility"},
    "target": {"zh": "目标", "en": "target"},
    "achieved": {"zh": "完成", "en": "achieved"},
    "met": {"zh": "是否达标", "en": "met"},
    "covered_share": {"zh": "覆盖率", "en": "covered"},
    "new": {"zh": "新建", "en": "new"},
    "existing": {"zh": "已有", "en": "existing"},
    "gap": {"zh": "最优性差距", "en": "solver gap"},
    "unit": {"zh": "单位", "en": "unit"},
    "yes": {"zh": "达标", "en": "met"},
    "no": {"zh": "未达标", "en": "not met"},
    "na": {"zh": "不适用", "en": "n/a"},
    "on_part": {"zh": "按{what}计", "en": "on {what}"},
    "gap_note": {
        "zh": "最优性差距:方案与求解器证明的最优界之间的最大相对差距(0% 即已证明最优)。",
        "en": "Solver gap: the largest relative distance between a plan and the best bound the solver "
        "proved (0% = proven optimal).",
    },
    "gap_over": {"zh": "{gap} 高于要求的 {asked}", "en": "{gap} > {asked} asked"},
    "curve": {"zh": "权衡曲线", "en": "Trade-off curve"},
    "maps": {"zh": "交互地图", "en": "Interactive maps"},
    "whole_map": {"zh": "全部区域(总图)", "en": "whole area (index)"},
    "static_maps": {"zh": "分区地图", "en": "District maps"},
    "family_map": {"zh": "{name}:设施与未覆盖老年人", "en": "{name}: sites and uncovered older people"},
    "district_map": {"zh": "{name}:全部设施", "en": "{name}: every facility"},
    "model": {"zh": "模型", "en": "Model"},
    "by_district": {"zh": "分区情况", "en": "By district"},
    "townships": {"zh": "街乡镇情况", "en": "By township"},
    "townships_intro": {
        "zh": "每个街乡镇:各类设施数量(新建+已有),覆盖类设施的60岁以上未覆盖人数与覆盖率,"
        "到最近设施的直线距离(按人数加权的中位数与90%分位数,米)。",
        "en": "Per township: sites of each family (new + existing), for coverage families the "
        "uncovered people and the share covered, and the straight-line distance to the nearest "
        "site (people-weighted median and 90th percentile, metres).",
    },
    "sites": {"zh": "设施数", "en": "sites"},
    "demand": {"zh": "需求", "en": "demand"},
    "covered": {"zh": "已覆盖", "en": "covered"},
    "uncovered": {"zh": "未覆盖", "en": "uncovered"},
    "nearest_median": {"zh": "最近设施中位数(米)", "en": "nearest, median (m)"},
    "nearest_p90": {"zh": "最近设施90%分位(米)", "en": "nearest, 90th pct (m)"},
    "beds_or_allocated": {"zh": "床位/分配", "en": "beds or allocated"},
    "notes": {"zh": "说明", "en": "Notes"},
    "data": {"zh": "数据与假设", "en": "Data and assumptions"},
    "sources": {
        "zh": "街道数据 © OpenStreetMap 贡献者(ODbL)。人口:北京市统计局,第七次全国人口普查(2020)。",
        "en": "Street data © OpenStreetMap contributors (ODbL). Census: Beijing Municipal Bureau of "
        "Statistics, 7th census (2020).",
    },
    "untranslated": {"zh": "〔英文原文〕", "en": ""},
    "older": {"zh": "60岁以上人口密度", "en": "people 60+ per km²"},
    "uncov_legend": {"zh": "未覆盖老年人", "en": "uncovered older people"},
    "total": {"zh": "合计", "en": "total"},
    "no_sites": {"zh": "本区域无此类设施。", "en": "No site of this family in the area."},
}

#: values of the summary shown as they are in English
VALUES_ZH = {"beijing": "北京市", "walk": "步行", "drive": "驾车", "network": "路网", "straight_line": "直线"}

UNITS_ZH = {
    "sites": "个设施",
    "beds": "张床位",
    "home-care beds allocated": "张家庭照护床位(已分配)",
    "share of communities/villages within reach": "可达社区/村的比例",
    "share of rural townships (镇/乡) with a site": "有设施的乡镇比例",
    "sites (township-level units: 1 each)": "个设施(每个街乡镇1个)",
    "sites (districts: 1 each)": "个设施(每区1个)",
}

MODELS_ZH = {
    "max_cover": "最大覆盖",
    "min_cover": "最少设施覆盖",
    "per_unit": "按单元配置",
    "p_median": "p-中位",
    "capacitated": "有容量约束的选址",
    "allocate": "按比例分配",
}

# phrases used inside several notes
_PHRASES = [
    ("people aged 60+", "60岁以上老年人"),
    ("communities/villages", "社区/村"),
    ("urban communities", "城市社区"),
    ("township-level units", "街乡镇"),
    ("rural townships (镇/乡)", "乡镇"),
    ("districts", "区"),
    ("people", "常住人口"),
]


_REASONS = [
    (
        r"no boundary in the bundled data \(a unit created 2019–2021; its people are in older units\)",
        "附带数据中无边界(2019–2021年新设,人口计入原单元)",
    ),
    (r"every candidate site excluded: ", "所有候选点均被排除:"),
    (r"(\d[\d,]*) \(more than ([\d,]+) people within ([\d,]+) m\)", r"\1 个(\3 米内人口超过 \2)"),
    (r"(\d[\d,]*) \(within ([\d,]+) m of housing ≥ ([\d,]+)/km²\)", r"\1 个(距人口密度 ≥ \3/平方公里的住宅 \2 米以内)"),
    (r"(\d[\d,]*) more than ([\d,]+) people within ([\d,]+) m", r"\1 个(\3 米内人口超过 \2)"),
    (r"(\d[\d,]*) within ([\d,]+) m of housing ≥ ([\d,]+)/km²", r"\1 个(距人口密度 ≥ \3/平方公里的住宅 \2 米以内)"),
    (r"(\d[\d,]*) \(more than ([\d,]+) people live in the cell\)", r"\1 个(网格内人口超过 \2)"),
    (r"(\d[\d,]*) \(a cell chosen for ([a-z_]+)\)", r"\1 个(网格已被 \2 选用)"),
    (r"too few candidate sites", "候选点不足"),
    (r"target not reached", "未达到目标"),
    # the parts of an equity rule's price (models.equity.RulePrice.describe)
    (r"the district minimum of (\d+%) covered", r"各区覆盖率不低于 \1"),
    (r"the township minimum of (\d+%) covered", r"各街乡镇覆盖率不低于 \1"),
    (r"quotas by district \(each its part of the count, split by ([^)]+)\)", r"按区配额(各区份额按\1分配)"),
    (r"quotas by township \(each its part of the count, split by ([^)]+)\)", r"按街乡镇配额(各街乡镇份额按\1分配)"),
    (r"覆盖率 between ([\d.]+) and ([\d.]+) points", r"覆盖率 \1 至 \2 个百分点"),
    (r"覆盖率 ([\d.]+) points", r"覆盖率 \1 个百分点"),
    (r"覆盖率 at least ([\d.]+) points", r"覆盖率至少 \1 个百分点(不设规则时未证明上界)"),
    (
        r" \(the plan found with the rule covers ([\d.]+) points more than the one found without it; the interval is "
        r"what is proven\)",
        r";设规则所得方案比不设规则所得方案多覆盖 \1 个百分点,区间为已证明的范围",
    ),
    (r" \(proven ≤ ([\d.]+%)\)", r",已证明不超过 \1"),
    (
        r" \(the plans found differ by ([\d.]+) points; the interval is what is proven\)",
        r";所得两方案相差 \1 个百分点,区间为已证明的范围",
    ),
]


def _ph(s: str) -> str:
    for rx, zh in _REASONS:
        s = re.sub(rx, zh, s)
    for en, zh in _PHRASES:
        s = s.replace(en, zh)
    return s


def _travel(s: str) -> str:
    s = re.sub(r"walking at ([\d.]+) km/h", r"步行 \1 公里/小时", s)
    s = re.sub(r"driving at ([\d.]+) km/h", r"驾车 \1 公里/小时", s)
    return s.replace("detour ×", "绕行系数").replace("streets", "路网")


NOTE_TEMPLATES: list[tuple[str, str]] = [
    (
        r"Inside each township people are spread over the cells by area \(no population raster given\)\.",
        "各街乡镇内的人口按面积均匀分布到网格(未提供人口栅格)。",
    ),
    (
        r"Inside each township people are spread over the cells by (?P<how>.+)\.",
        "各街乡镇内的人口按{how}分布到网格。",
    ),
    (
        r"Older population \(60\+\): city share (?P<s>[\d.]+) \((?P<src>[^)]*)\); no per-district age figures are "
        r"published in the bundled data\.",
        "60岁及以上人口:全市比例 {s}({src});随附数据中没有公开的分区年龄数据。",
    ),
    (
        r"Older population \(60\+\): (?P<rest>.+)",
        "60岁及以上人口:{rest}",
    ),
    (
        r"Community/village locations known for (?P<a>\d+) of (?P<b>\d+) units \(2016 geocodes\); (?P<c>\d+) of "
        r"(?P<d>\d+) in the area\.",
        "已知位置的社区村:全市 {b} 个中 {a} 个(2016年坐标);本区域 {d} 个中 {c} 个。",
    ),
    (
        r"(?P<rule>.+) costs (?P<price>.+) of coverage: (?P<free>[\d.]+%) covered without it(?P<bound>.*), "
        r"(?P<with>[\d.]+%) with it(?P<rest>.*)\.",
        "公平规则({rule})的代价:覆盖率 {price}(不设规则时覆盖 {free}{bound},设规则时 {with}){rest}。",
    ),
    (
        r"(?P<rule>.+) cannot be met with (?P<p>\d+) new site\(s\) \((?P<why>.*)\); the plan is the best one without "
        r"the rule, and the rule is reported as not met",
        "以 {p} 个新设施无法满足{rule}({why});给出不设该规则的最优方案,并标记该规则未达标",
    ),
    (
        r"(?P<n>[\d,]+) here: this area's part of (?P<tot>[\d,]+) in the scenario's area, split among districts by "
        r"(?P<by>.+) \(largest remainder\)",
        "本区域 {n}:全市目标 {tot} 中本区域的份额,按{by}在各区间分配(最大余数法)",
    ),
    (
        r"(?P<n>[\d,]+) beds here: this area's part of (?P<tot>[\d,]+) in the scenario's area, split among districts "
        r"by (?P<by>.+) \(largest remainder\)",
        "本区域 {n} 张床位:全市 {tot} 张中本区域的份额,按{by}在各区间分配(最大余数法)",
    ),
    (
        r"(?P<n>[\d,]+) beds here: this area's part of (?P<tot>[\d,]+) beds in every district",
        "本区域 {n} 张床位:每区 {tot} 张",
    ),
    (
        r"(?P<n>[\d,]+) beds here: this area's part of (?P<tot>[\d,]+) beds: (?P<k>\d+) district\(s\) from "
        r"`beds_by_district`, (?P<o>[\d,]+) in every other district",
        "本区域 {n} 张床位:全市 {tot} 张,其中 {k} 个区按 `beds_by_district` 指定,其余各区 {o} 张",
    ),
    (
        r"(?P<tot>[\d,]+) in the scenario's area, split among districts by (?P<by>.+) \(largest remainder\)",
        "全市 {tot},按{by}在各区间分配(最大余数法)",
    ),
    (
        r"(?P<tot>[\d,]+) beds: (?P<k>\d+) district\(s\) from `beds_by_district`, (?P<o>[\d,]+) in every other "
        r"district",
        "全市 {tot} 张床位,其中 {k} 个区按 `beds_by_district` 指定,其余各区 {o} 张",
    ),
    (r"(?P<tot>[\d,]+) beds in every district", "每区 {tot} 张床位"),
    (r"(?P<n>\d+) (?P<u>.+?) without the target's sites: (?P<list>.+)", "{n} 个{u}未达到目标设施数:{list}"),
    (r"candidates excluded: (?P<list>.+)", "排除候选点:{list}"),
    (
        r"people living within (?P<m>[\d,]+) m of a site \(cell centres\): median (?P<md>[\d,]+), most "
        r"(?P<mx>[\d,]+); people are spread evenly inside each township unless a population raster is given, so "
        r"these are estimates",
        "设施 {m} 米内居住人口(按网格中心):中位数 {md},最多 {mx};未提供人口栅格时人口在街乡镇内均匀分布,故为估计值",
    ),
    (
        r"the proven gap (?P<g>[\d.]+%) is above the (?P<a>[\d.]+%) asked: the model stopped after (?P<t>\d+) s of "
        r"its (?P<l>\d+) s because in its last (?P<w>\d+) s the plan did not improve and the bound moved too little "
        r"to reach the gap asked in time; a longer `solver.time_limit_s` is unlikely to close it "
        r"\(`solver.stop_when_stalled: false` runs to the limit\)",
        "已证明的差距 {g} 高于要求的 {a}:模型在时间上限 {l} 秒中的第 {t} 秒提前停止,因为最近 {w} 秒内方案没有改进、"
        "界的进展也不足以在时限内达到要求的差距;延长 `solver.time_limit_s` 不太可能缩小差距"
        "(`solver.stop_when_stalled: false` 可运行至时限)",
    ),
    (
        r"the proven gap (?P<g>[\d.]+%) is above the (?P<a>[\d.]+%) asked: the model ended after (?P<t>\d+) s of "
        r"its (?P<l>\d+) s because its search had nothing left to try and its bound had stopped moving; a longer "
        r"`solver.time_limit_s` is unlikely to close it",
        "已证明的差距 {g} 高于要求的 {a}:模型在时间上限 {l} 秒中的第 {t} 秒结束,因为搜索已无可尝试的改进、界也已不再变化;"
        "延长 `solver.time_limit_s` 不太可能缩小差距",
    ),
    (
        r"the proven gap (?P<g>[\d.]+%) is above the (?P<a>[\d.]+%) asked: the solver stopped at its time limit; a "
        r"longer `solver.time_limit_s` may close it",
        "已证明的差距 {g} 高于要求的 {a}:求解器到达时间上限停止;延长 `solver.time_limit_s` 可能缩小差距",
    ),
    (
        r"plan from the LP relaxation by a dive \((?P<d>\d+) LPs\), (?P<s>\d+) swaps and (?P<b>\d+) of (?P<w>\d+) "
        r"windows re-solved exactly; bound from the LP's duals, so branch-and-bound was not needed",
        "方案由线性松弛逐步取整(求解 {d} 次线性规划)、{s} 次交换及 {w} 个局部窗口中 {b} 个的精确重解得到;"
        "界由线性规划的对偶值给出,无需分支定界",
    ),
    (
        r"large model \((?P<nnz>[\d,]+) coverage entries\): plan by greedy, (?P<rb>\d+) of (?P<rt>\d+) regions "
        r"re-planned from their LP relaxation, (?P<s>\d+) swaps and (?P<b>\d+) of (?P<w>\d+) windows re-solved "
        r"exactly; bound by the Lagrangian relaxation \((?P<i>\d+) subgradient steps\)",
        "大规模模型({nnz} 个覆盖关系):方案由贪心法得到,{rt} 个分区中 {rb} 个按其线性松弛重新规划,"
        "{s} 次交换,{w} 个局部窗口中 {b} 个精确重解;界由拉格朗日松弛给出({i} 步次梯度)",
    ),
    (r"1 in every one of the (?P<n>\d+) (?P<u>.+)", "{n} 个{u}各 1 个"),
    (r"(?P<p>\d+)% of the (?P<n>\d+) (?P<u>.+) with (?P<k>\d+) site\(s\)", "{n} 个{u}中 {p}% 各有 {k} 个设施"),
    (r"(?P<p>\d+)% of (?P<u>.+)", "{u}的 {p}%"),
    (r"(?P<what>.+) within (?P<m>[\d.]+) min \((?P<how>.+)\)", "{m} 分钟内可达的{what}({how})"),
    (r"(?P<how>(walking|driving) at [\d.]+ km/h, detour × [\d.]+)", "{how}"),
    (
        r"quotas by district: (?P<n>[\d,]+) sites split by (?P<by>.+) \(largest remainder\); one model of the whole "
        r"area, coverage across borders counts",
        "分区配额:{n} 个设施按{by}在各区间分配(最大余数法);全区域一个模型,跨区覆盖计入",
    ),
    (
        r"equity rule \(quota by district\) costs at most (?P<c>[\d.]+%|inf%) of the demand \((?P<n>[\d,.]+|inf)\): "
        r"(?P<w>[\d.]+%) covered with the rule, at most (?P<wo>[\d.]+%|inf%) without it \(proven bound\)",
        "分区公平规则最多损失需求的 {c}({n}):有规则时覆盖 {w},无规则时至多 {wo}(已证明的界)",
    ),
    (r"per-unit limits on (?P<n>\d+) units", "{n} 个单元设有上限"),
    (
        r"one model per (?P<u>.+); units are independent, so the worst unit gap is the plan's gap",
        "每个{u}一个模型;各单元相互独立,方案差距取各单元最大值",
    ),
    (
        r"assembled from sub-problems: one model per (?P<u>.+); units are independent, so the worst unit gap is the "
        r"plan's gap",
        "由子问题组合:每个{u}一个模型;各单元相互独立,方案差距取各单元最大值",
    ),
    (
        r"the (?P<n>[\d,]+) (?P<u>.+) with a known location, (?P<p>\d+)% of (?P<t>[\d,]+)",
        "位置已知的 {n} 个{u}(共 {t} 个的 {p}%)",
    ),
    (r"nothing planned: no (?P<what>.+) in the area planned", "未规划:本区域没有{what}"),
    (r"no (?P<u>.+) in the area: the target does not apply here", "本区域没有{u}:该目标不适用"),
    (
        r"(?P<s>[\d.]+)% of (?P<w>.+) within (?P<t>[\d.]+) min of their site \((?P<how>.+)\); mean (?P<m>[\d.]+) min",
        "{w}中 {s}% 在{t}分钟内到达其设施({how});平均 {m} 分钟",
    ),
    (
        r"planned only in (?P<d>.+) \(the block's `within\.districts`\), none of them in this plan's area: the target "
        r"does not apply here",
        "只在 {d} 规划,本方案区域不在其中:该目标不适用",
    ),
    (
        r"the district minimum of (?P<m>\d+)% is not reached: (?P<s>[\d.]+)% of (?P<w>.+) within reach with "
        r"(?P<p>\d+) new site\(s\)",
        "未达到各区最低覆盖率 {m}%:{p} 个新设施覆盖{w}的 {s}%",
    ),
    (
        r"candidates excluded: (?P<n>[\d,]+) \(within (?P<m>[\d,]+) m of housing ≥ (?P<d>[\d,]+)/km²\)",
        "排除候选点 {n} 个(距人口密度 ≥ {d}/平方公里的住宅 {m} 米以内)",
    ),
    (
        r"candidates thinned to one per (?P<m>[\d,]+) m square: (?P<k>[\d,]+) of (?P<n>[\d,]+)",
        "候选点按每 {m} 米方格保留一个:{n} 个中保留 {k} 个",
    ),
    (
        r"this plan covers (?P<d>.+), part of the scenario's area: every count below is this part's share of the "
        r"scenario's target \(how it was split is in each family\)",
        "本方案只覆盖{d},是情景区域的一部分:以下各数均为本部分在情景目标中的份额(分配方法见各类设施)",
    ),
    (
        r"no existing sites given for (?P<f>.+): every site in the plan is new\. No open dataset of existing facilities "
        r"is bundled; give yours under the family's `existing.file` to keep them\.",
        "以下设施未提供现有设施位置:{f};方案中的设施均为新建。本工具不附带现有设施的公开数据,可在该类设施的 "
        "`existing.file` 中提供以保留现有设施。",
    ),
    (
        r"(?P<a>\d+) of (?P<b>\d+) township-level units \(NBS 2023\) have a polygon; (?P<c>\d+) do not \(new "
        r"subdistricts of 2019–2021, listed in the join report\)\.",
        "{b} 个街乡镇(国家统计局2023)中 {a} 个有边界;{c} 个没有(2019–2021年新设街道,见连接报告)。",
    ),
    (
        r"(?P<a>\d+) of (?P<b>\d+) polygons carry no 2023 code; they keep a `poi86:` code and their population\.",
        "{b} 个边界中 {a} 个没有2023年代码,保留 `poi86:` 代码及其人口。",
    ),
    (
        r"(?P<a>[\d,]+) of (?P<b>[\d,]+) community/village points join a 2023 code; the (?P<c>[\d,]+) others \(2016 "
        r"codes since changed\) are listed in the join report and not used\.",
        "{b} 个社区/村点位中 {a} 个匹配到2023年代码;其余 {c} 个(2016年代码已变更)列于连接报告,未使用。",
    ),
    (
        r"Population: 2020 census by district \(exact\); Haidian townships from their census figures; other townships "
        r"split by the WorldPop estimate \(a model, not a count\)\.",
        "人口:各区为2020年人口普查数(精确);海淀区各街乡镇用普查数;其他街乡镇按 WorldPop 估计分配(模型估计,非普查)。",
    ),
    (
        r"Older population \(60\+\): share (?P<s>[\d.]+) \(city 2020 census share\); no per-district age figures are "
        r"published in the bundled data\.",
        "60岁以上人口:比例 {s}(2020年全市普查比例);附带数据中没有分区年龄数据。",
    ),
    (
        r"Community/village locations known for (?P<a>[\d,]+) of (?P<b>[\d,]+) units \(2016 geocodes\)\.",
        "{b} 个社区/村中 {a} 个位置已知(2016年地理编码)。",
    ),
]
_COMPILED = [(re.compile(p + r"$"), t) for p, t in NOTE_TEMPLATES]


def text(key: str, lang: str = "zh", **kw) -> str:
    """A fixed text of the report in ``lang`` (``zh`` or ``en``), formatted with ``kw``."""
    return TEXT[key][lang if lang in LANGS else "zh"].format(**kw)


def note(s: str | None, lang: str = "zh") -> tuple[str, bool]:
    """A note in ``lang``: (text, translated). English notes are returned as they are; a Chinese rendering comes from
    the first template that matches the whole note, or the English text with ``translated=False``.
    """
    if not s:
        return "", True
    if lang == "en":
        return s, True
    for rx, tpl in _COMPILED:
        mt = rx.match(s.strip())
        if mt:
            return _travel(_ph(tpl.format(**{k: v or "" for k, v in mt.groupdict().items()}))), True
    if s in UNITS_ZH:
        return UNITS_ZH[s], True
    return s, False


def unit(s: str, lang: str = "zh") -> str:
    """A KPI unit in ``lang``."""
    return UNITS_ZH.get(s, note(s, lang)[0]) if lang == "zh" else s


def value(s: str, lang: str = "zh") -> str:
    """A plain value of the summary (area, travel mode) in ``lang``."""
    return VALUES_ZH.get(str(s), str(s)) if lang == "zh" else str(s)


__all__ = ["LANGS", "NOTE_TEMPLATES", "TEXT", "VALUES_ZH", "note", "text", "unit", "value"]
