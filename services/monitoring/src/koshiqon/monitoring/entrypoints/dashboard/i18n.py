"""The dashboard's words in Kazakh, Russian and English: the UI strings of its pages, and the
names of the codes it shows (indicators, quota kinds, legal statuses, proposal types and
stages). Region names are not here: they are `koshiqon.common.kz.REGIONS`' own.

A key missing from the catalogue is a bug the tests catch (`test_dashboard_i18n`), not a
blank on the page."""

# ruff: noqa: RUF001  (Kazakh and Russian words are Cyrillic: that is the point of the file)

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from koshiqon.common import kz

Lang = Literal["kk", "ru", "en"]
LANGS: tuple[Lang, ...] = ("kk", "ru", "en")
DEFAULT: Lang = "kk"  # the state language
LANGUAGE_NAMES: Mapping[Lang, str] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

_ = tuple[str, str, str]  # kk, ru, en

UI: Mapping[str, _] = {
    "app": ("Көші-қон мониторингі", "Мониторинг миграции", "Migration monitoring"),
    "nation": ("Қазақстан Республикасы", "Республика Казахстан", "Republic of Kazakhstan"),
    "national_page": ("Ел бойынша шолу", "Обзор по стране", "National overview"),
    "period": ("Кезең", "Период", "Period"),
    "show": ("Көрсету", "Показать", "Show"),
    "years": ("Жылдар", "Годы", "Years"),
    "quarters": ("Тоқсандар", "Кварталы", "Quarters"),
    "months": ("Айлар", "Месяцы", "Months"),
    "language": ("Тіл", "Язык", "Language"),
    "sign_in": ("Кіру", "Войти", "Sign in"),
    "sign_out": ("Шығу", "Выйти", "Sign out"),
    "token": ("Қол жеткізу токені", "Токен доступа", "Access token"),
    "token_help": (
        "Әзірлеу кезінде: uv run --frozen koshiqon token --scope monitoring:read",
        "В разработке: uv run --frozen koshiqon token --scope monitoring:read",
        "In development: uv run --frozen koshiqon token --scope monitoring:read",
    ),
    "signed_in_as": ("Пайдаланушы", "Пользователь", "Signed in as"),
    "bad_token": ("Токен қабылданбады", "Токен не принят", "The token was not accepted"),
    "no_scope": (
        "Бұл токенде monitoring:read рұқсаты жоқ",
        "У этого токена нет права monitoring:read",
        "This token does not grant monitoring:read",
    ),
    "empty_token": ("Токенді енгізіңіз", "Введите токен", "Enter a token"),
    "cross_site": (
        "Кіру формасы тек осы сайттан жіберіледі",
        "Форма входа отправляется только с этого сайта",
        "The sign-in form is accepted from this site only",
    ),
    "session_ended": (
        "Сессия аяқталды: қайта кіріңіз",
        "Сеанс завершён: войдите снова",
        "The session has ended: sign in again",
    ),
    "download_csv": ("CSV жүктеу", "Скачать CSV", "Download CSV"),
    "regions_table": (
        "Өңірлердің негізгі көрсеткіштері",
        "Основные показатели регионов",
        "Main indicators of the regions",
    ),
    "sort_hint": (
        "Сұрыптау үшін баған атауын басыңыз",
        "Нажмите на заголовок столбца для сортировки",
        "Click a column heading to sort",
    ),
    "region": ("Өңір", "Регион", "Region"),
    "kato": ("ӘАОЖ", "КАТО", "KATO"),
    "active_alert": ("Белсенді дабыл (§8)", "Активный сигнал (§8)", "Active alert (§8)"),
    "alert_yes": ("Иә", "Да", "Yes"),
    "alert_none": ("—", "—", "—"),
    "alerts": ("Белсенді дабылдар", "Активные сигналы", "Active alerts"),
    "no_alerts": ("Белсенді дабыл жоқ", "Активных сигналов нет", "No active alert"),
    "alert_period": ("Дабыл кезеңі", "Период сигнала", "Alert period"),
    "alert_raised": ("Көтерілген уақыты", "Поднят", "Raised"),
    "net_departures": ("Таза кету", "Чистый отток", "Net departures"),
    "net_migration_chart": (
        "Өңірлер бойынша көші-қон сальдосы",
        "Сальдо миграции по регионам",
        "Net migration by region",
    ),
    "quota_chart": (
        "Квоталар: жоспар және нақты",
        "Квоты: план и факт",
        "Quotas: targets and actuals",
    ),
    "quota_table": (
        "Өңірлер мен түрлер бойынша квоталар",
        "Квоты по регионам и видам",
        "Quotas by region and kind",
    ),
    "kind": ("Түрі", "Вид", "Kind"),
    "quota": ("Квота", "Квота", "Quota"),
    "category": ("Санаты", "Категория", "Category"),
    "month": ("Ай", "Месяц", "Month"),
    "monthly_chart": (
        "Ай сайынғы келу және кету",
        "Прибытие и выбытие по месяцам",
        "Monthly arrivals and departures",
    ),
    "monthly_table": (
        "Ай сайынғы келу және кету (құқықтық мәртебе бойынша)",
        "Прибытие и выбытие по месяцам (по правовому статусу)",
        "Monthly arrivals and departures (by legal status)",
    ),
    "counterparts_chart": (
        "Қайдан келеді және қайда кетеді",
        "Откуда прибывают и куда выбывают",
        "Where people come from and go to",
    ),
    "counterparts_table": (
        "Келу және кету бағыттары",
        "Направления прибытия и выбытия",
        "Origins and destinations",
    ),
    "counterpart": ("Ел немесе өңір", "Страна или регион", "Country or region"),
    "quota_use_chart": ("Квоталарды пайдалану", "Использование квот", "Quota utilization"),
    "quota_use_table": (
        "Өңір квоталарын пайдалану",
        "Использование квот региона",
        "The region's quotas",
    ),
    "years_covered": ("Жылдар", "Годы", "Years"),
    "forecast_chart": (
        "Халық болжамы (80 % және 95 % аралықтары)",
        "Прогноз численности населения (интервалы 80 % и 95 %)",
        "Population forecast (80 % and 95 % intervals)",
    ),
    "forecast_table": (
        "Болжам және қажетті орындар",
        "Прогноз и необходимые места",
        "Forecast and the places it implies",
    ),
    "forecast_method": ("Әдіс", "Метод", "Method"),
    "forecast_base": ("Соңғы дерек", "Последние данные", "Base date"),
    "forecast_unavailable": (
        "Болжам жасалмады",
        "Прогноз не построен",
        "No forecast could be made",
    ),
    "ages_region": (
        "Орындар өңірдің жас құрылымы бойынша есептелді",
        "Места рассчитаны по возрастной структуре региона",
        "Places from the region's own age groups",
    ),
    "ages_national": (
        "Өңірдің жас топтары жүктелмеген: ел бойынша үлестер қолданылды",
        "Возрастные группы региона не загружены: использованы доли по стране",
        "The region's age groups are not loaded: the national shares are used",
    ),
    "ages_national-from-regions": (
        "Өңірдің жас топтары жүктелмеген: жас топтары бар өңірлердің жиынтық үлестері қолданылды",
        "Возрастные группы региона не загружены: использованы доли регионов, где они есть",
        "The region's age groups are not loaded: the shares of the regions that have them are used",
    ),
    "ages_none": (
        "Жас топтары жүктелмеген: орындар есептелмейді",
        "Возрастные группы не загружены: места не рассчитываются",
        "No age groups are loaded: no places are computed",
    ),
    "population_forecast": ("Халық саны", "Численность населения", "Population"),
    "history": ("Деректер", "Данные", "Series"),
    "forecast": ("Болжам", "Прогноз", "Forecast"),
    "interval_80": ("80 % аралығы", "Интервал 80 %", "80 % interval"),
    "interval_95": ("95 % аралығы", "Интервал 95 %", "95 % interval"),
    "date": ("Күні", "Дата", "Date"),
    "lower_95": ("Төменгі 95 %", "Нижняя 95 %", "Lower 95 %"),
    "lower_80": ("Төменгі 80 %", "Нижняя 80 %", "Lower 80 %"),
    "upper_80": ("Жоғарғы 80 %", "Верхняя 80 %", "Upper 80 %"),
    "upper_95": ("Жоғарғы 95 %", "Верхняя 95 %", "Upper 95 %"),
    "school_places": ("Мектептегі орындар", "Места в школах", "School places"),
    "kindergarten_places": (
        "Балабақшадағы орындар",
        "Места в детских садах",
        "Kindergarten places",
    ),
    "primary_care": (
        "Алғашқы медициналық көмек",
        "Первичная медико-санитарная помощь",
        "Primary care",
    ),
    "proposals_table": ("Өңір ұсыныстары", "Предложения региона", "The region's proposals"),
    "no_proposals": ("Ұсыныс жоқ", "Предложений нет", "No proposals"),
    "proposal": ("Ұсыныс", "Предложение", "Proposal"),
    "type": ("Түрі", "Тип", "Type"),
    "stage": ("Жағдайы", "Состояние", "State"),
    "since": ("Жағдай уақыты", "С момента", "Since"),
    "first_seen": ("Алғаш", "Впервые", "First event"),
    "indicators": ("Көрсеткіштер", "Показатели", "Indicators"),
    "indicator": ("Көрсеткіш", "Показатель", "Indicator"),
    "value": ("Мәні", "Значение", "Value"),
    "missing": ("дерек жоқ", "нет данных", "no data"),
    "back": ("Ел бойынша шолуға", "К обзору по стране", "Back to the national overview"),
    "not_found": ("Табылмады", "Не найдено", "Not found"),
    "bad_request": ("Қате сұрау", "Неверный запрос", "Bad request"),
    "forbidden": ("Рұқсат жоқ", "Доступ запрещён", "Forbidden"),
    "unknown_region": ("Мұндай өңір жоқ", "Такого региона нет", "There is no such region"),
    "licence": (
        "Диаграммалар: plotly.js (MIT лицензиясы)",
        "Диаграммы: plotly.js (лицензия MIT)",
        "Charts: plotly.js (MIT licence)",
    ),
    "scope_external": ("сыртқы", "внешняя", "external"),
    "scope_internal": ("ішкі", "внутренняя", "internal"),
    "direction_in": ("келу", "прибытие", "arrivals"),
    "direction_out": ("кету", "выбытие", "departures"),
    "scope": ("Көші-қон", "Миграция", "Migration"),
    "direction": ("Бағыт", "Направление", "Direction"),
    "legal_status": ("Құқықтық мәртебе", "Правовой статус", "Legal status"),
    "persons": ("Адам", "Человек", "Persons"),
}

INDICATORS: Mapping[str, _] = {
    "population": ("Халық саны (кезең басында)", "Население (на начало периода)",
                   "Population (start of period)"),
    "average_population": ("Орташа жылдық халық саны", "Среднегодовое население",
                           "Average population"),
    "area_km2": ("Аумағы, км²", "Площадь, км²", "Area, km²"),
    "density": ("Тығыздығы, адам/км²", "Плотность, чел./км²", "Density, per km²"),
    "urbanization": ("Урбандалу, %", "Урбанизация, %", "Urbanization, %"),
    "births": ("Туғандар", "Родившиеся", "Births"),
    "deaths": ("Қайтыс болғандар", "Умершие", "Deaths"),
    "natural_increase": ("Табиғи өсім", "Естественный прирост", "Natural increase"),
    "natural_increase_rate": ("Табиғи өсім, ‰", "Естественный прирост, ‰",
                              "Natural increase, ‰"),
    "birth_rate": ("Туу коэффициенті, ‰", "Рождаемость, ‰", "Birth rate, ‰"),
    "death_rate": ("Өлім коэффициенті, ‰", "Смертность, ‰", "Death rate, ‰"),
    "arrivals_external": ("Шетелден келгендер", "Прибывшие из-за рубежа",
                          "Arrivals from abroad"),
    "departures_external": ("Шетелге кеткендер", "Выбывшие за рубеж", "Departures abroad"),
    "arrivals_internal": ("Басқа өңірлерден келгендер", "Прибывшие из других регионов",
                          "Arrivals from other regions"),
    "departures_internal": ("Басқа өңірлерге кеткендер", "Выбывшие в другие регионы",
                            "Departures to other regions"),
    "net_migration_external": ("Сыртқы көші-қон сальдосы", "Сальдо внешней миграции",
                               "Net external migration"),
    "net_migration_internal": ("Ішкі көші-қон сальдосы", "Сальдо внутренней миграции",
                               "Net internal migration"),
    "net_migration": ("Көші-қон сальдосы", "Сальдо миграции", "Net migration"),
    "net_migration_rate": ("Көші-қон сальдосы, ‰", "Сальдо миграции, ‰", "Net migration, ‰"),
    "net_migration_external_rate": ("Сыртқы сальдо, ‰", "Внешнее сальдо, ‰",
                                    "Net external migration, ‰"),
    "net_migration_internal_rate": ("Ішкі сальдо, ‰", "Внутреннее сальдо, ‰",
                                    "Net internal migration, ‰"),
    "outflow_exceeds_reproduction": ("Кету өсімнен асады (§8)",
                                     "Отток превышает прирост (§8)",
                                     "Outflow exceeds reproduction (§8)"),
    "job_seekers": ("Жұмыс іздеушілер", "Ищущие работу", "Job seekers"),
    "vacancies": ("Бос жұмыс орындары", "Вакансии", "Vacancies"),
    "labour_market_balance": ("Еңбек нарығының балансы", "Баланс рынка труда",
                              "Labour market balance"),
    "ethnic_shares": ("Этникалық құрамы, %", "Этнический состав, %", "Ethnic composition, %"),
}  # fmt: skip

QUOTA_KINDS: Mapping[str, _] = {
    "kandas": ("Қандастар", "Кандасы", "Kandases"),
    "migrant": ("Ішкі қоныс аударушылар", "Внутренние переселенцы", "Internal migrants"),
    "foreign_labour": ("Шетелдік жұмыс күші", "Иностранная рабочая сила", "Foreign labour"),
}

QUOTA_MEASURES: Mapping[str, _] = {
    "limit": ("Квота (жоспар)", "Квота (план)", "Quota (target)"),
    "reserved": ("Брондалған", "Зарезервировано", "Reserved"),
    "consumed": ("Пайдаланылған", "Использовано", "Used"),
    "remaining": ("Қалдық", "Остаток", "Remaining"),
    "utilization": ("Пайдалану үлесі", "Доля использования", "Utilization"),
    "resettled": ("Қоныстанғандар (нақты)", "Переселено (факт)", "Resettled (actual)"),
}

LEGAL_STATUSES: Mapping[str, _] = {
    "citizen": ("ҚР азаматы", "Гражданин РК", "Citizen"),
    "foreigner": ("Шетел азаматы", "Иностранец", "Foreigner"),
    "stateless": ("Азаматтығы жоқ адам", "Лицо без гражданства", "Stateless person"),
}

PROPOSAL_TYPES: Mapping[str, _] = {
    "territory_assignment": ("Аумақты белгілеу", "Определение территории",
                             "Territory assignment"),
    "territory_exclusion": ("Аумақты алып тастау", "Исключение территории",
                            "Territory exclusion"),
    "foreign_labour_quota_change": ("Шетелдік жұмыс күші квотасын өзгерту",
                                    "Изменение квоты иностранной рабочей силы",
                                    "Foreign labour quota change"),
    "regional_quota_change": ("Өңірлік квотаны өзгерту", "Изменение региональной квоты",
                              "Regional quota change"),
    "measures": ("Шаралар (§8)", "Меры (§8)", "Measures (§8)"),
}  # fmt: skip

STAGES: Mapping[str, _] = {
    "opened": ("Жоба ашылды", "Проект открыт", "Draft opened"),
    "submitted": ("Қарауда", "На рассмотрении", "Under review"),
    "returned": ("Пысықтауға қайтарылды", "Возвращено на доработку", "Returned for changes"),
    "approved": ("Мақұлданды", "Одобрено", "Approved"),
    "rejected": ("Қабылданбады", "Отклонено", "Rejected"),
    "withdrawn": ("Кері қайтарылды", "Отозвано", "Withdrawn"),
    "applied": ("Қолданылды", "Применено", "Applied"),
    "application-failed": ("Қолдану сәтсіз", "Не применено", "Application failed"),
}


def pick(lang: str | None) -> Lang:
    """The language asked for, or the default for anything else (absent, unknown)."""
    for known in LANGS:
        if lang == known:
            return known
    return DEFAULT


def _in(entry: _, lang: Lang) -> str:
    return entry[LANGS.index(lang)]


def text(key: str, lang: Lang) -> str:
    return _in(UI[key], lang)


def word(table: Mapping[str, _], code: str, lang: Lang) -> str:
    """A code's name in `lang`, or the code itself when the catalogue does not name it (a
    value a later contract adds shows as sent, rather than failing the page)."""
    entry = table.get(code)
    return code if entry is None else _in(entry, lang)


def region_name(region: kz.Region, lang: Lang) -> str:
    return {"kk": region.name_kk, "ru": region.name_ru, "en": region.name_en}[lang]


def place_name(code: str, lang: Lang) -> str:
    """A flow's counterpart: a region (its name) or a country (its ISO code, as sent)."""
    return region_name(kz.region_by_kato(code), lang) if kz.is_region_code(code) else code


class Words:
    """What a template calls: `t(name)` for a UI string, and the named code tables."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str) -> str:
        return text(key, self.lang)

    def named(self, key: str, code: str) -> str:
        """The UI string `key` made from a code read from the data (`scope_external`), or the
        code itself when the catalogue has no such string."""
        return text(key, self.lang) if key in UI else code

    def indicator(self, name: str) -> str:
        return word(INDICATORS, name, self.lang)

    def kind(self, code: str) -> str:
        return word(QUOTA_KINDS, code, self.lang)

    def measure(self, code: str) -> str:
        return word(QUOTA_MEASURES, code, self.lang)

    def status(self, code: str) -> str:
        return word(LEGAL_STATUSES, code, self.lang)

    def proposal_type(self, code: str) -> str:
        return word(PROPOSAL_TYPES, code, self.lang)

    def stage(self, code: str) -> str:
        return word(STAGES, code, self.lang)
