"""Mandarin system phrases (``zh``/``cmn`` flows): the same keys and placeholders as English."""

LANGUAGE = "zh"

TEXTS: dict[str, str] = {
    "no_input": "对不起，我没有听到。",
    "no_match": "对不起，我没有听懂。",
    "confirm": "您是说{phrase}吗？请说是或不是，或按1表示是，按2表示不是。",
    "escalate": "正在为您转接人工服务，请稍候。",
    "agent": "好的，正在为您转接人工服务，请稍候。",
    "error": "对不起，系统出现问题，正在为您转接人工服务。",
    "hold_on": "请稍等。",
    "closed": "对不起，能为您服务的团队现在已下班。",
    "opens": "他们将于{when}开始服务。",
    "survey_range_csat": "对不起，请回答1到5之间的数字。",
    "survey_range_ces": "对不起，请回答1到7之间的数字。",
    "survey_range_nps": "对不起，请回答0到10之间的数字。",
    "survey_yesno": "对不起，请按1或说是，按2或说不是。",
    "survey_thanks": "感谢您的反馈。",
    "opening": "{day}{clock}",
    "clock_hour": "{hour}点",
    "clock_minute": "{hour}点{minute}分",
    "today": "今天",
    "tomorrow": "明天",
    "on_weekday": "{weekday}",
    "weekday_0": "星期一",
    "weekday_1": "星期二",
    "weekday_2": "星期三",
    "weekday_3": "星期四",
    "weekday_4": "星期五",
    "weekday_5": "星期六",
    "weekday_6": "星期日",
    "queue_next": "下一位就是您。",
    "queue_position": "您前面还有{position}位。",
    "wait_under_minute": "预计等待时间不到一分钟。",
    "wait_minute": "预计等待时间约一分钟。",
    "wait_minutes": "预计等待时间约{minutes}分钟。",
    "wait_options": "如需我们回电，请按1。如需留言，请按2。或请继续等待。",
    "wait_options_speech": "如需我们回电，请按1或说回电。如需留言，请按2。或请继续等待。",
    "wait_options_callback": "如需我们回电，请按1。或请继续等待。",
    "wait_options_callback_speech": "如需我们回电，请按1或说回电。或请继续等待。",
    "wait_options_voicemail": "如需留言，请按2。或请继续等待。",
    "already_in_line": "您已在等待人工服务，请不要挂机，我们会尽快为您服务。",
    "goodbye": "感谢您的来电，再见。",
    "survey_offer": "您愿意就本次通话回答一个简短的调查吗？请按1或说是。请按2或说不。",
    "queue_failed": "对不起，我们现在无法为您保留排队位置。",
    "nobody_answered": "对不起，现在没有人能接听您的电话。",
    "leave_options": "如需我们回电，请按1。如需留言，请按2。",
    "leave_options_voicemail": "如需留言，请按2。",
    "whisper_unknown": "来自语音导航的来电。",
    "callback_confirm": "我们可以回电到{number:digits}。使用这个号码请按1，输入其他号码请按2。",
    "callback_enter": "请输入我们回电的号码，包括区号，然后按井号键。",
    "callback_not_full": "对不起，这不是一个完整的电话号码。",
    "callback_readback": "您输入的是{number:digits}。正确请按1，重新输入请按2。",
    "callback_message_instead": "那么请您留言。",
    "callback_windows": "您希望我们什么时候回电？尽快回电请按1。上午九点到十二点请按2。下午十二点到五点请按3。"
                        "晚上五点到八点请按4。",
    "callback_promise": "谢谢。我们将{when}回电到{number:digits}。再见。",
    "when_free": "在有客服空闲时",
    "when_open": "在开始服务时，{opening}",
    "when_soon": "尽快",
    "when_window": "{day}{window}",
    "window_morning": "上午",
    "window_afternoon": "下午",
    "window_evening": "晚上",
    "callback_hello": "您好，这是您预约的回电。请稍候，正在为您转接人工服务。",
    "callback_gone": "对不起，这次回电已不再需要。再见。",
    "voicemail_prompt": "请在提示音后留言，留言完毕请按井号键。",
    "voicemail_none": "我们没有收到留言。再见。",
    "voicemail_saved": "谢谢。您的留言已保存，相关人员会尽快与您联系。再见。",
}

CALLBACK_WORDS: tuple[str, ...] = ("回电", "给我回电话", "回拨", "打回来")
VOICEMAIL_WORDS: tuple[str, ...] = ("留言", "语音信箱", "语音留言")

SCORE_WORDS: dict[str, int] = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
                               "八": 8, "九": 9, "十": 10}
"""调查的分数（"九分"）；每个值的第一个字用于识别语法。"""

SCALE_WORDS: tuple[str, ...] = ("{max}分之",)
"""量表的上限写在前面："十分之九" 是九分。"""

SCORE_FRAMES: tuple[str, ...] = ("{n}", "{n}分", "打{n}分")
