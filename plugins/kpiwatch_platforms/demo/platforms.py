"""The pretend platforms of the demo and their character (numbers are plausible, not sourced)."""

from __future__ import annotations

from kpiwatch_platforms.demo.base import Generator
from kpiwatch_platforms.demo.business import AdsGenerator, CrmGenerator, WebGenerator
from kpiwatch_platforms.demo.social import ContentType, DailyRates, SocialGenerator, SocialSpec

PHOTO = SocialSpec(
    name="demo_photo",
    description=(
        "Pretend photo network (Instagram-like): followers, reach, impressions, likes, comments, "
        "shares, saves, profile views, link clicks; image, carousel, reel and story posts."
    ),
    host="photo.demo.example",
    followers=12_000,
    following=True,
    posts_per_week=6.0,
    weekday=(0.95, 0.97, 1.0, 1.0, 1.03, 1.12, 1.1),
    posting_hours=(0, 0, 0, 0, 0, 0, 1, 3, 4, 3, 2, 4, 6, 5, 3, 2, 3, 5, 7, 8, 7, 5, 2, 1),
    audience_hours=(1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3, 3, 4, 5, 5, 4, 4, 4, 5, 6, 7, 8, 8, 6,
                    3),
    content=(
        ContentType("image", 0.35, reach=0.22, likes=0.06, comments=0.04, shares=0.004,
                    saves=0.008, hours=8),
        ContentType("carousel", 0.25, reach=0.26, likes=0.065, comments=0.045, shares=0.006,
                    saves=0.025, hours=10),
        ContentType("reel", 0.25, reach=0.65, likes=0.05, comments=0.03, shares=0.012,
                    saves=0.01, views=0.85, impressions=1.5, hours=30),
        ContentType("story", 0.15, reach=0.12, likes=0.02, comments=0.01, shares=0.002,
                    clicks=0.01, impressions=1.1, hours=5, lifetime=24),
    ),
    rates=DailyRates(reach=0.28, impressions=1.6, video_views=0.3, profile_views=0.03,
                     likes=0.05, comments=0.035, shares=0.004, saves=0.006, clicks=0.002,
                     mentions=0.0012),
    account_metrics=(
        "followers", "following", "followers_gained", "followers_lost", "posts",
        "posts_published", "impressions", "reach", "video_views", "profile_views",
        "engagements", "likes", "comments", "shares", "saves", "clicks", "mentions",
    ),
    post_metrics=("impressions", "reach", "video_views", "engagements", "likes", "comments",
                  "shares", "saves", "clicks"),
    engagement_parts=("likes", "comments", "shares", "saves"),
)  # fmt: skip

VIDEO = SocialSpec(
    name="demo_video",
    description=(
        "Pretend video platform (YouTube/TikTok-like): subscribers, video views, impressions, "
        "likes, comments, shares; video, short (reel) and live posts."
    ),
    host="video.demo.example",
    followers=25_000,
    following=False,
    posts_per_week=2.5,
    weekday=(0.9, 0.92, 0.95, 0.97, 1.05, 1.18, 1.22),
    posting_hours=(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0),
    audience_hours=(3, 2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 6, 7, 8, 9, 8, 6, 4),
    content=(
        ContentType("video", 0.6, reach=0.9, likes=0.035, comments=0.08, shares=0.004,
                    views=0.45, impressions=2.2, hours=48),
        ContentType("reel", 0.3, reach=1.6, likes=0.05, comments=0.03, shares=0.01,
                    views=0.7, impressions=1.4, hours=20),
        ContentType("live", 0.1, reach=0.25, likes=0.03, comments=0.4, shares=0.002,
                    views=0.8, impressions=1.3, hours=3),
    ),
    rates=DailyRates(reach=0.4, impressions=2.2, video_views=0.35, likes=0.02, comments=0.06,
                     shares=0.003, churn=0.0005),
    account_metrics=(
        "followers", "followers_gained", "followers_lost", "posts", "posts_published",
        "impressions", "video_views", "likes", "comments", "shares",
    ),
    post_metrics=("impressions", "video_views", "likes", "comments", "shares"),
    engagement_parts=("likes", "comments", "shares"),
)  # fmt: skip

MICRO = SocialSpec(
    name="demo_micro",
    description=(
        "Pretend microblog (X/Mastodon-like): followers, following, impressions, likes, "
        "replies, reposts, bookmarks, link clicks, mentions; text, link, image and video posts."
    ),
    host="micro.demo.example",
    followers=8_000,
    following=True,
    posts_per_week=14.0,
    weekday=(1.05, 1.08, 1.08, 1.05, 1.0, 0.86, 0.84),
    posting_hours=(0.5, 0.2, 0, 0, 0, 0.3, 1, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2, 2, 1),
    audience_hours=(2, 1, 0.5, 0.3, 0.3, 1, 2, 4, 6, 6, 5, 5, 6, 6, 5, 5, 5, 5, 5, 5, 4, 4, 3, 3),
    content=(
        ContentType("text", 0.45, reach=0.12, likes=0.02, comments=0.1, shares=0.004,
                    saves=0.002, hours=2),
        ContentType("link", 0.25, reach=0.1, likes=0.012, comments=0.06, shares=0.005,
                    saves=0.003, clicks=0.012, hours=3),
        ContentType("image", 0.2, reach=0.16, likes=0.028, comments=0.08, shares=0.006,
                    saves=0.003, clicks=0.001, hours=3),
        ContentType("video", 0.1, reach=0.2, likes=0.025, comments=0.07, shares=0.008,
                    saves=0.003, views=0.4, hours=6),
    ),
    rates=DailyRates(reach=0.45, impressions=1.4, video_views=0.04, profile_views=0.01,
                     likes=0.02, comments=0.08, shares=0.005, saves=0.002, clicks=0.004,
                     mentions=0.002, churn=0.0009),
    account_metrics=(
        "followers", "following", "followers_gained", "followers_lost", "posts",
        "posts_published", "impressions", "video_views", "profile_views", "engagements",
        "likes", "comments", "shares", "saves", "clicks", "mentions",
    ),
    post_metrics=("impressions", "video_views", "engagements", "likes", "comments", "shares",
                  "saves", "clicks"),
    engagement_parts=("likes", "comments", "shares", "saves", "clicks"),
)  # fmt: skip

PRO = SocialSpec(
    name="demo_pro",
    description=(
        "Pretend professional network (LinkedIn-like): followers, impressions, reach, clicks, "
        "reactions, comments, reposts, mentions, inbox messages, replies and response time."
    ),
    host="pro.demo.example",
    followers=5_000,
    following=False,
    posts_per_week=3.5,
    weekday=(1.12, 1.18, 1.18, 1.12, 0.95, 0.45, 0.42),
    posting_hours=(0, 0, 0, 0, 0, 0, 1, 5, 8, 6, 4, 3, 4, 3, 2, 2, 2, 1, 0.5, 0.3, 0, 0, 0, 0),
    audience_hours=(0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 4, 7, 7, 5, 4, 5, 5, 4, 4, 3, 2, 1.5, 1, 1,
                    0.8, 0.5, 0.4),
    content=(
        ContentType("text", 0.3, reach=0.3, likes=0.03, comments=0.12, shares=0.006,
                    clicks=0.01, hours=10),
        ContentType("image", 0.25, reach=0.35, likes=0.035, comments=0.1, shares=0.007,
                    clicks=0.012, hours=10),
        ContentType("link", 0.2, reach=0.25, likes=0.02, comments=0.08, shares=0.005,
                    clicks=0.03, hours=8),
        ContentType("carousel", 0.1, reach=0.45, likes=0.04, comments=0.1, shares=0.01,
                    clicks=0.02, hours=14),
        ContentType("video", 0.15, reach=0.4, likes=0.03, comments=0.08, shares=0.008,
                    clicks=0.008, views=0.5, hours=12),
    ),
    rates=DailyRates(reach=0.22, impressions=1.5, video_views=0.06, profile_views=0.02,
                     likes=0.03, comments=0.1, shares=0.006, clicks=0.015, mentions=0.001,
                     messages=0.002, churn=0.0004, response_hours=3.0),
    account_metrics=(
        "followers", "followers_gained", "followers_lost", "posts", "posts_published",
        "impressions", "reach", "video_views", "profile_views", "engagements", "likes",
        "comments", "shares", "clicks", "mentions", "messages_received", "replies",
        "response_time_seconds",
    ),
    post_metrics=("impressions", "reach", "video_views", "engagements", "likes", "comments",
                  "shares", "clicks"),
    engagement_parts=("likes", "comments", "shares", "clicks"),
)  # fmt: skip

#: Every demo platform, in the order they are registered.
GENERATORS: tuple[Generator, ...] = (
    SocialGenerator(PHOTO),
    SocialGenerator(VIDEO),
    SocialGenerator(MICRO),
    SocialGenerator(PRO),
    WebGenerator(),
    AdsGenerator(),
    CrmGenerator(),
)
